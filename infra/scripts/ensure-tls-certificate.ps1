# azd postprovision on Windows: the same as ensure-tls-certificate.sh.
$ErrorActionPreference = 'Stop'
if (($env:ORLEANSSTREAM_TLS ?? 'true') -ne 'true') { exit 0 }
if (-not $env:AZURE_KEY_VAULT_NAME) { throw 'run through azd: the provisioning outputs name the vault' }
$name = $env:ORLEANSSTREAM_TLS_CERTIFICATE_NAME ?? 'silo-tls'
az keyvault certificate show --vault-name $env:AZURE_KEY_VAULT_NAME --name $name --output none 2>$null
if ($LASTEXITCODE -eq 0) { exit 0 }
az keyvault certificate create --vault-name $env:AZURE_KEY_VAULT_NAME --name $name --policy "@$PSScriptRoot/tls-certificate-policy.json" --output none
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Output "Created certificate $name in $($env:AZURE_KEY_VAULT_NAME)."
