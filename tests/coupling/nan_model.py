"""nan_model.py MODEL.nc [SCALE] — makes a gyre model file's network produce Inf/NaN: the
weights of its last layer are set to +-3e38 (alternating), or with SCALE multiplied by it (Inf
only where the last hidden layer is large enough), and the weights' SHA-256 is updated so that
the file still loads. Used by the guard tests."""
import hashlib
import sys

import netCDF4
import numpy as np

path = sys.argv[1]
d = netCDF4.Dataset(path, "r")
params = [n for n, v in d.variables.items() if getattr(v, "long_name", "") == "network parameter"]
buffers = [n for n, v in d.variables.items()
           if getattr(v, "long_name", "") == "network buffer (not trained)"]
d.close()
last = [n for n in params if n.endswith(".W")][-1]
d = netCDF4.Dataset(path, "a")
w = d[last][:]
if len(sys.argv) > 2:
    d[last][:] = (w.astype("f8") * float(sys.argv[2])).astype("f4")
else:
    d[last][:] = np.where(np.arange(w.size).reshape(w.shape) % 2 == 0, 3e38, -3e38).astype("f4")
h = hashlib.sha256()
for n in params + buffers:
    h.update(np.ascontiguousarray(d[n][:], dtype="<f4").tobytes())
d.setncattr("weights_sha256", h.hexdigest())
d.close()
print(f"{path}: {last} " + (f"x {sys.argv[2]}" if len(sys.argv) > 2 else "set to +-3e38"))
