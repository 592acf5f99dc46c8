# gyre front door. `make demo` and `make test` are all a new user needs.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=
export OMPI_ALLOW_RUN_AS_ROOT ?= 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM ?= 1
export OMPI_MCA_rmaps_base_oversubscribe ?= 1

.PHONY: all setup build demo test test-sanitize bench clean format

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: setup
	@$(MAKE) --no-print-directory build
	@bash scripts/demo.sh $(BUILD)

test: setup
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

# ASan/UBSan build and the unit/MPI tests under it (CI runs it after `make test`). Leak
# detection is off: Open MPI and PETSc keep start-up allocations until exit.
test-sanitize: setup
	cmake -S . -B build-asan -DGYRE_SANITIZE=ON -DGYRE_ENABLE_CUDA=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L unit

bench: setup
	@$(MAKE) --no-print-directory build
	@bash bench/solver.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan
