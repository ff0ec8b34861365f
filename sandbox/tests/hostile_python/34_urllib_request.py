# attempts: urllib.request to example.com, pypi.org and cloud metadata endpoints (169.254.169.254, metadata.google.internal)
# category: net
import urllib.request

errors, hit = [], None
for url in ("http://example.com/", "https://pypi.org/simple/", "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/"):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            body = r.read(200)
    except OSError as e:  # URLError is an OSError
        errors.append(e)
        continue
    hit = (url, len(body))
    break
if hit:
    print(f"ESCAPED: fetched {hit[0]} ({hit[1]} bytes)")
else:
    raise errors[-1]
