#!/bin/sh
# The container's entry point: on first start, put the default config into the volume (edit it there),
# then run `sigcore` with the given arguments (default: `run`). The key-encryption key is created beside the
# database on first need (/var/lib/sigcore/sigcore.key, mode 0600): back the volume up.
set -eu
if [ ! -e "$SIGCORE_CONFIG" ]; then
    cp /etc/sigcore/sigcore.yaml "$SIGCORE_CONFIG"
    echo "sigcore: wrote the default configuration to $SIGCORE_CONFIG" >&2
fi
exec /opt/sigcore/bin/sigcore "$@"
