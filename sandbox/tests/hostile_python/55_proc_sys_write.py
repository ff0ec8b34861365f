# attempts: write kernel sysctls (core_pattern, modprobe, overcommit, randomize_va_space, nr_open) and oom_score_adj=-1000
# category: proc
errors, won = [], []
for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/vm/overcommit_memory",
          "/proc/sys/kernel/randomize_va_space", "/proc/sys/fs/nr_open"):
    try:
        with open(p) as f:
            cur = f.read()
        with open(p, "w") as f:
            f.write(cur)  # rewrite the current value: proves write access without changing the host
    except OSError as e:
        errors.append(e)
        continue
    won.append(p)
try:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("-1000")  # lowering needs CAP_SYS_RESOURCE: would make the sandbox unkillable by the OOM killer
    won.append("/proc/self/oom_score_adj=-1000")
except OSError as e:
    errors.append(e)
if won:
    print("ESCAPED: wrote kernel tunables: " + ", ".join(won))
else:
    raise errors[-1]
