# attempts: shutil.rmtree of a system directory on the read-only /usr bind (/usr/share/doc or similar)
# category: fs
import os
import shutil

target = "/usr/share/doc"
for cand in ("/usr/share/doc", "/usr/share/man", "/usr/share/locale", "/usr/local/share"):
    if os.path.isdir(cand) and os.listdir(cand):
        target = cand
        break
shutil.rmtree(target)  # EROFS on the first unlink when /usr is mounted read-only
print(f"ESCAPED: removed {target} with shutil.rmtree")
