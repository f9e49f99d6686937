#!/bin/sh
# The optional sign job (SIGN_IMAGE=true): keyless cosign signature of the pushed image digest,
# with the job's OIDC token (id_tokens: SIGSTORE_ID_TOKEN, audience sigstore); no key to keep.
# Verify with: cosign verify --certificate-identity-regexp '<project URL>//.gitlab-ci.yml@refs/heads/<branch>'
#   --certificate-oidc-issuer "$CI_SERVER_URL" "$IMAGE_REF"   (docs/security.md)
set -eu
: "${IMAGE_REF:?sign: IMAGE_REF comes from the build job (build.env)}"
: "${SIGSTORE_ID_TOKEN:?sign: the job needs id_tokens: SIGSTORE_ID_TOKEN (aud: sigstore)}"
printf '%s' "$CI_REGISTRY_PASSWORD" | cosign login "$CI_REGISTRY" -u "$CI_REGISTRY_USER" --password-stdin
cosign sign --yes "$IMAGE_REF"
echo "sign: signed $IMAGE_REF"
