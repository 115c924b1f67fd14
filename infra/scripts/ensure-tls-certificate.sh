#!/bin/sh
# azd postprovision: creates the silos' TLS certificate in the Key Vault when it is missing. Self-signed, for server
# and client authentication; renewal keeps the key, so silos that have not restarted yet still trust the renewed one.
set -eu
if [ "${ORLEANSSTREAM_TLS:-true}" != "true" ]; then exit 0; fi
: "${AZURE_KEY_VAULT_NAME:?run through azd: the provisioning outputs name the vault}"
name="${ORLEANSSTREAM_TLS_CERTIFICATE_NAME:-silo-tls}"
if az keyvault certificate show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$name" --output none 2>/dev/null; then
  exit 0
fi
az keyvault certificate create --vault-name "$AZURE_KEY_VAULT_NAME" --name "$name" \
  --policy "@$(dirname "$0")/tls-certificate-policy.json" --output none
echo "Created certificate $name in $AZURE_KEY_VAULT_NAME."
