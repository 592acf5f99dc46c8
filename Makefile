# gyre front door. `make demo` and `make test` are all a new user needs.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=
export OMPI_ALLOW_RUN_AS_ROOT ?= 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM ?= 1
export OMPI_MCA_rmaps_base_oversubscribe ?= 1

.PHONY: all setup build demo test test-sanitize test-mpich bench gpu-bundle clean format

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

# The surrogate library alone (io/, surrogates/ and their tests; no PETSc) built and tested
# with MPICH and the serial libnetcdf, the second configuration CI checks (after test-sanitize).
# The MPICH compiler wrapper and launcher are named explicitly: `mpicc` and `mpiexec` on PATH
# stay Open MPI's, the MPI of Debian's PETSc.
MPICH_CMAKE_FLAGS = -DGYRE_SURROGATES_ONLY=ON -DGYRE_ENABLE_CUDA=OFF \
  -DCMAKE_C_COMPILER=mpicc.mpich -DMPI_C_COMPILER=mpicc.mpich \
  -DMPIEXEC_EXECUTABLE=$(shell command -v mpiexec.mpich || echo /usr/bin/mpiexec.mpich)
test-mpich: setup
	cmake -S . -B build-mpich $(MPICH_CMAKE_FLAGS)
	cmake --build build-mpich -j $(JOBS)
	cd build-mpich && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

bench: setup
	@$(MAKE) --no-print-directory build
	@bash bench/solver.sh $(BUILD)
	@bash bench/train_cpu.sh $(BUILD)
	@bash bench/coupling.sh $(BUILD)

# The GPU tests and benchmark, built here (needs nvcc) and packed into .gpu/bundle.tar.xz for a
# GPU machine, where `bash tests/gpu/run.sh` runs them; and the main build's gyre with its whole
# stack (PETSc, Open MPI, NetCDF) in .gpu/stack.tar.xz, for the coupling benchmark there.
gpu-bundle: setup
	@$(MAKE) --no-print-directory build
	@bash scripts/gpu_bundle.sh build-gpu $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-mpich build-gpu .gpu
