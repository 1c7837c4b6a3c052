# The GPU checks, run on the GPU machine from the repository root (see benchmarks/gpu/README.md): the first
# part of ffmpeg is already in /tmp/ff (an earlier call carried it), the rest came in this call's .gpu/ folders.
set -o pipefail
cat /tmp/ff/ff00 .gpu/ffB/ff01 > /tmp/ffmpeg.xz || exit 1
python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('/tmp/ffmpeg.xz'),open('/tmp/ffmpeg','wb'))" && chmod +x /tmp/ffmpeg || exit 1
export IMAGEIO_FFMPEG_EXE=/tmp/ffmpeg
source .gpu/env.sh
DEVICE=${DEVICE:-cuda}
SORA_DEBUG=1 timeout 120 python3 -m sora_core.cli.main generate "a red circle moving right" --device $DEVICE -o $OUT/red-cuda.mp4 > /tmp/gen.log 2>&1; rc=$?
tail -25 /tmp/gen.log; [ $rc = 0 ] || exit 1
for check in caption summarize; do  # the video-to-text templates on the device too
    timeout 120 python3 -m sora_core.cli.main $check $OUT/red-cuda.mp4 --device $DEVICE --json || exit 1
done
timeout 120 python3 -m sora_core.cli.main ask $OUT/red-cuda.mp4 "what colour is it?" --device $DEVICE --json || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch;print('torch',torch.__version__,torch.cuda.get_device_name(0))"; nproc
[ "${SKIP_BENCHMARKS:-}" = 1 ] && exit 0
timeout 300 python3 benchmarks/bench_serve.py --device cuda --clients 8 --jobs 4 2>&1 | tee $OUT/bench_serve_cuda.txt
timeout 160 python3 benchmarks/bench_generate.py --device cuda --videos 5 2>&1 | tee $OUT/bench_generate_cuda.txt
