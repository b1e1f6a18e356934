#!/bin/sh
# Publish the example portfolio the way an artist without a website would:
# a fresh key, a manifest of every image, a signature, a verification.
# Works from any directory; the files it writes stay in a new temporary
# directory (printed at the end). Set NOTRAIN to use another notrain command.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
notrain=${NOTRAIN:-notrain}
if ! command -v "$notrain" >/dev/null 2>&1; then
    echo "publish.sh: '$notrain' is not on PATH; install notrain first (pip install .)" >&2
    exit 1
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/notrain-example.XXXXXX")

step() {
    printf '\n==> %s\n' "$*"
}

step "Generate an Ed25519 signing key (private JWK, mode 0600). Its did:key is your identity."
"$notrain" keygen --out "$out/key.jwk"

step "Hash every image in examples/portfolio (SHA-256 + PDQ) into an unsigned manifest."
"$notrain" init --from "$here/portfolio" --key "$out/key.jwk" --name "Example Artist" \
    --out "$out/notrain.manifest.json"

step "Check the manifest for likely mistakes."
"$notrain" lint "$out/notrain.manifest.json"

step "Sign the exact manifest bytes into a DSSE envelope: the file you publish."
"$notrain" sign "$out/notrain.manifest.json" --key "$out/key.jwk" --out "$out/notrain.json"

step "Verify it as a crawler would: signature by the did:key, validity, schema."
"$notrain" verify "$out/notrain.json"

step "Show what it says."
"$notrain" show "$out/notrain.json"

step "Done. Publish $out/notrain.json (as /.well-known/notrain.json, or submit it to an aggregator) and keep $out/key.jwk secret."
