// The silos' TLS certificate: a Key Vault (RBAC only) the silos read secrets from through their managed identity.
// azd's postprovision hook (infra/scripts/ensure-tls-certificate.sh) creates the certificate in it when missing.
param name string
param location string
param tags object

@description('Principal of the silos\' managed identity: reads the certificate\'s secret (Container Apps Key Vault reference).')
param silosPrincipalId string

@description('Optional user principal (the developer running azd): creates the certificate and downloads its public part; empty skips it.')
param userPrincipalId string = ''

// Built-in roles: Key Vault Secrets User, Key Vault Certificates Officer.
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var certificatesOfficerRoleId = 'a4417e6f-fecd-4de8-b567-7b0420b446b7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource silosSecretsAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, silosPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    principalId: silosPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
  }
}

resource userCertificatesAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, certificatesOfficerRoleId)
  scope: vault
  properties: {
    principalId: userPrincipalId
    principalType: 'User'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', certificatesOfficerRoleId)
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
