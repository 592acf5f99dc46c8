# bench/train_table.awk — what bench/train_cpu.sh and bench/train_gpu.sh share when they read
# the TRAIN lines of bench_train_cpu and bench/train_cpu.py (key=value fields): each line's
# values go to v[fw, arch SUBSEP case, key], case being the value of the field named by the
# variable `case_key` (threads on the CPU, size on the GPU; 64 where a line has no size).
# Loaded with `awk -v case_key=... -f bench/train_table.awk -f <the script's table>`.

/^TRAIN / {
  delete kv
  for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
  if (!(case_key in kv) && case_key == "size") kv["size"] = 64
  key = kv["arch"] SUBSEP kv[case_key]
  for (k in kv) v[kv["fw"], key, k] = kv[k]
}

# whether both frameworks reported the case `key`
function have_pair(key) {
  return (("gyre", key, "samples_per_s") in v) && (("torch", key, "samples_per_s") in v)
}

# 1 (after an ERROR line naming `name`) when gyre and PyTorch trained different parameter
# counts or on different data (their sums), else 0
function pair_differs(name, key,   dg, dt, bad) {
  bad = 0
  if (v["gyre", key, "params"] != v["torch", key, "params"]) {
    printf "ERROR: %s: parameter counts differ: gyre %s, torch %s\n", name, \
      v["gyre", key, "params"], v["torch", key, "params"]; bad = 1
  }
  dg = v["gyre", key, "data_sum"]; dt = v["torch", key, "data_sum"]
  if ((dg - dt) > 1e-3 || (dt - dg) > 1e-3) {
    printf "ERROR: %s: the data differ (sums %s, %s)\n", name, dg, dt; bad = 1
  }
  return bad
}
