# The container's entry point: `bash .cycleswap/run.sh` in /app.
set -eu
echo "demo job inside the container (INSIDE_CYCLESWAP_CONTAINER=$INSIDE_CYCLESWAP_CONTAINER), image built at $(cat /opt/demo/built-at)"
exec bash fixtures/resuming-trainer/train.sh
