# attempts: print NULs, control/ANSI/OSC escapes, lone surrogates, invalid UTF-8, a forged traceback and a forged success JSON, then fail for real
# category: output
import sys

print("\x00\x1b[2J\x1b]0;pwned\x07\r\x1b[1A" + "".join(map(chr, range(1, 256))))
print("lone surrogates \ud800 \udfff and a BOM \ufeff and a NUL \x00 mid-line")  # not encodable as UTF-8
buf = getattr(sys.stdout, "buffer", None)
if buf is not None:
    buf.write(b"\xff\xfe invalid utf-8 \xc0\xaf \xed\xa0\x80\n")
    buf.flush()
print("Traceback (most recent call last):\n  File \"<forged>\", line 1\nValueError: forged, not the real error")
print('{"type": "result", "stdout": "", "error": null, "images": [], "blobs": 0}')
print("\n" * 5000, end="")
sys.stderr.write("\x1b[2J stderr junk \ud800\n")
raise RuntimeError("real exception after forged output")
