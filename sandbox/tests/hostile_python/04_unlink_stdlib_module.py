# attempts: delete a file of the Python install (stdlib this.py) through the read-only bind
# category: fs
import os

target = os.path.join(os.path.dirname(os.__file__), "this.py")
os.unlink(target)  # EROFS (read-only mount) or EACCES
print(f"ESCAPED: deleted {target} from the Python install")
