// OrleansStream on Azure Container Apps: `azd up` provisions this, then deploys the silo image.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to name the resource group and derive resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@minValue(1)
@maxValue(20)
@description('Number of silos. Each silo is its own Container App with exactly one replica and its own port pair.')
param siloCount int = 3

@description('Silo image set by azd after the first deploy (SERVICE_SILO_IMAGE_NAME); empty provisions a placeholder.')
param siloImageName string = ''

@description('vCPU per silo. Consumption ephemeral storage grows with it (1 vCPU = 4 GiB, 2 vCPU = 8 GiB).')
@allowed(['0.5', '1.0', '2.0', '4.0'])
param siloCpu string = '1.0'

@description('Memory per silo; must match the vCPU (2 GiB per vCPU on the Consumption profile).')
@allowed(['1Gi', '2Gi', '4Gi', '8Gi'])
param siloMemory string = '2Gi'

@description('Optional OTLP endpoint for metrics (sets OTEL_EXPORTER_OTLP_ENDPOINT in every silo).')
param otlpEndpoint string = ''

@description('Turns on the Orleans Dashboard in every silo (served on the health port under /dashboard).')
param enableDashboard bool = false

@description('Broker-wide topic defaults (Kafka broker keys; a topic\'s own config overrides them), sized for the replica\'s small ephemeral disk: 64 MiB segments, every topic tiered to Blob, at most one hour or 512 MiB kept locally per partition.')
param topicDefaults object = {
  'log.segment.bytes': '67108864'
  'remote.storage.enable': 'true'
  'log.local.retention.ms': '3600000'
  'log.local.retention.bytes': '536870912'
}

@description('Object id of the user running azd, granted blob and table data access for inspection and Key Vault certificate management; empty skips it.')
param principalId string = ''

@description('TLS between silos and on the gateways, with the certificate the postprovision hook keeps in Key Vault.')
param enableTls bool = true

@description('Kafka\'s ssl.client.auth for the gateways: Required lets only clients holding a trusted certificate connect.')
@allowed(['None', 'Requested', 'Required'])
param tlsClientAuth string = 'None'

@description('Optional Key Vault secret (same vault) holding a PEM bundle of the authorities that issue client certificates.')
param tlsClientCaSecretName string = ''

@description('Optional comma-separated SHA-1 thumbprints: client certificates of those authorities are accepted only when listed.')
param tlsAllowedThumbprints string = ''

@description('Optional comma-separated Kafka users: each has its SCRAM-SHA-512 credential in the Key Vault secret kafka-user-<name>, and the Kafka listeners become SASL_SSL (needs enableTls).')
param kafkaSaslUsers string = ''

@description('Optional: Kafka\'s sasl.oauthbearer.jwks.endpoint.url, the identity provider\'s JWKS (Entra ID: https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys). Set, it turns on SASL/OAUTHBEARER (signed tokens) beside any SCRAM users, and the Kafka listeners become SASL_SSL (needs enableTls); empty leaves it off.')
param kafkaOAuthBearerJwksEndpointUrl string = ''

@description('Optional: Kafka\'s sasl.oauthbearer.expected.audience, comma-separated; a token\'s aud must name one (Entra ID: the application ID URI or client id). Empty leaves aud unchecked.')
param kafkaOAuthBearerExpectedAudience string = ''

@description('Optional: Kafka\'s sasl.oauthbearer.expected.issuer; a token\'s iss must be it (Entra ID v2: https://login.microsoftonline.com/<tenant>/v2.0). Empty leaves iss unchecked.')
param kafkaOAuthBearerExpectedIssuer string = ''

@description('Optional: Kafka\'s sasl.oauthbearer.sub.claim.name, the claim naming the principal (Entra ID: oid); empty keeps the broker\'s default, sub.')
param kafkaOAuthBearerSubClaimName string = ''

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    name: 'log-${resourceToken}'
    location: location
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    name: 'cr${resourceToken}'
    location: location
    tags: tags
    pullPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    dataPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    containerNames: [segmentsContainerName, grainStateContainerName]
    tableNames: [membershipTableName]
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    silosPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
  }
}

module environment 'modules/containerapps-environment.bicep' = {
  name: 'containerapps-environment'
  scope: rg
  params: {
    name: 'cae-${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceName: monitoring.outputs.name
    infrastructureSubnetId: network.outputs.containerAppsSubnetId
  }
}

var segmentsContainerName = 'segments'
var grainStateContainerName = 'grainstate'
// Orleans' Azure Table membership table (AzureStorageClusteringOptions.DEFAULT_TABLE_NAME).
var membershipTableName = 'OrleansSiloInstances'
// The silos' one certificate in Key Vault (its secret is the PKCS#12 file, base64).
var tlsCertificateName = 'silo-tls'

// One Container App per silo; updated one at a time so a redeploy never restarts every replica of a partition at once.
@batchSize(1)
module silos 'modules/silo.bicep' = [for i in range(0, siloCount): {
  name: 'silo-${i}'
  scope: rg
  params: {
    name: 'silo-${i}-${resourceToken}'
    location: location
    tags: tags
    azdServiceName: i == 0 ? 'silo' : ''
    brokerId: 'silo-${i}'
    siloPort: 11111 + i
    gatewayPort: 30000 + i
    kafkaPort: 9092 + i
    image: siloImageName
    cpu: siloCpu
    memory: siloMemory
    environmentId: environment.outputs.id
    environmentStaticIp: environment.outputs.staticIp
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: registry.outputs.loginServer
    blobServiceUri: storage.outputs.blobEndpoint
    tableServiceUri: storage.outputs.tableEndpoint
    membershipTableName: membershipTableName
    segmentsContainerName: segmentsContainerName
    grainStateContainerName: grainStateContainerName
    clusterId: environmentName
    otlpEndpoint: otlpEndpoint
    enableDashboard: enableDashboard
    topicDefaults: topicDefaults
    tlsCertificateSecretUri: enableTls ? '${keyVault.outputs.uri}secrets/${tlsCertificateName}' : ''
    tlsClientCaSecretUri: enableTls && !empty(tlsClientCaSecretName) ? '${keyVault.outputs.uri}secrets/${tlsClientCaSecretName}' : ''
    tlsClientAuth: tlsClientAuth
    tlsAllowedThumbprints: tlsAllowedThumbprints
    kafkaSaslUsers: map(filter(split(kafkaSaslUsers, ','), u => !empty(trim(u))), u => {
      name: trim(u)
      secretUri: '${keyVault.outputs.uri}secrets/kafka-user-${trim(u)}'
    })
    kafkaOAuthBearerJwksEndpointUrl: kafkaOAuthBearerJwksEndpointUrl
    kafkaOAuthBearerExpectedAudience: kafkaOAuthBearerExpectedAudience
    kafkaOAuthBearerExpectedIssuer: kafkaOAuthBearerExpectedIssuer
    kafkaOAuthBearerSubClaimName: kafkaOAuthBearerSubClaimName
  }
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = environment.outputs.id
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = environment.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_DEFAULT_DOMAIN string = environment.outputs.defaultDomain
output AZURE_CONTAINER_APPS_ENVIRONMENT_STATIC_IP string = environment.outputs.staticIp
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output ORLEANSSTREAM_TLS string = string(enableTls)
output ORLEANSSTREAM_TLS_CERTIFICATE_NAME string = tlsCertificateName
output SERVICE_SILO_NAME string = silos[0].outputs.name
output ORLEANSSTREAM_SILO_COUNT int = siloCount
output ORLEANSSTREAM_GATEWAYS array = [for i in range(0, siloCount): '${environment.outputs.staticIp}:${30000 + i}']

@description('Kafka bootstrap.servers for clients in the VNet.')
output ORLEANSSTREAM_KAFKA_BOOTSTRAP_SERVERS string = join(map(range(0, siloCount), i => '${environment.outputs.staticIp}:${9092 + i}'), ',')
