# attempts: raise RLIMIT_AS/CPU/FSIZE/NOFILE/NPROC hard limits to infinity; also flags any of the four jail limits left unlimited
# category: resource
import resource

INF = resource.RLIM_INFINITY
errors, unlimited, raised = [], [], []
for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC"):
    r = getattr(resource, name)
    soft, hard = resource.getrlimit(r)
    if hard == INF:
        if name != "RLIMIT_NPROC":  # the jail promises limits on AS, CPU, FSIZE and NOFILE
            unlimited.append(name)
        continue
    try:
        resource.setrlimit(r, (INF, INF))  # ValueError: not allowed to raise maximum limit
        raised.append(name)
    except (ValueError, OSError) as e:
        errors.append(e)
    try:
        resource.setrlimit(r, (hard + 1, hard + 1))
        raised.append(name + "+1")
    except (ValueError, OSError) as e:
        errors.append(e)
if unlimited or raised:
    print(f"ESCAPED: rlimits not enforced: unlimited={unlimited} raised={raised}")
else:
    raise errors[-1]
