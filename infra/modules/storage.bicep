// The one storage account: blobs for tiered segments and grain state, a table for Orleans membership; Entra ID only (shared key off).
param name string
param location string
param tags object

@description('Principal of the silos\' managed identity.')
param dataPrincipalId string

@description('Optional user principal (the developer running azd) for inspecting blobs and tables; empty skips it.')
param userPrincipalId string = ''

param containerNames string[]
param tableNames string[]

// Built-in roles: Storage Blob Data Contributor, Storage Table Data Contributor.
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var tableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var silosRoleIds = [blobDataContributorRoleId, tableDataContributorRoleId]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

resource silosDataAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in silosRoleIds: {
  name: guid(account.id, dataPrincipalId, roleId)
  scope: account
  properties: {
    principalId: dataPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

resource userDataAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in (empty(userPrincipalId) ? [] : silosRoleIds): {
  name: guid(account.id, userPrincipalId, roleId)
  scope: account
  properties: {
    principalId: userPrincipalId
    principalType: 'User'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
