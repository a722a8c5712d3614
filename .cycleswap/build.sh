# Runs at build time with only .cycleswap/ and the build_files in /app.
# The offline base image has no apt-get; a real Ubuntu image would install packages here.
set -eu
echo "building the demo image on: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release)"
mkdir -p /opt/demo
cp fixtures/resuming-trainer/requirements.txt /opt/demo/requirements.txt
date -u +%Y-%m-%dT%H:%M:%SZ > /opt/demo/built-at
echo "build done"
