# Sourced on the GPU machine from the repository root (a local dry run sets PY, SITE and WHL): installs the
# dependencies the image lacks into SITE, writes the stand-in MiniLM, and puts the sora distributions' metadata
# and sources on PYTHONPATH.
PY=${PY:-python3}
SITE=${SITE:-/tmp/site}
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE ${WHL:-.gpu/whl}/*.whl || exit 1
cp -r .gpu/ffpkg/imageio_ffmpeg $SITE/
$PY .gpu/standin.py $SITE || exit 1
R=$PWD
export PYTHONPATH=$SITE:$R/.gpu/meta:$R:$R/plugins/sora-dit:$R/plugins/sora-text:$R/plugins/sora-vae:$R/plugins/sora-synth:$R/plugins/sora-understand:$R/plugins/sora-seed
export PYTHONUNBUFFERED=1 SORA_PROGRESS=0
