// One OrleansStream silo: a Container App with exactly one replica and its own exposed silo, gateway and Kafka ports.
// Orleans and the Kafka listener advertise the environment's static IP with these ports; the environment's internal
// TCP ingress forwards them, so they are reachable from the VNet only.
param name string
param location string
param tags object

@description('azd service name tag; set on exactly one silo so `azd deploy` has one target.')
param azdServiceName string = ''

@description('Stable broker id: a restarted silo takes its replicas back.')
param brokerId string
param siloPort int
param gatewayPort int

@description('Kafka listener port, unique in the environment: the TCP ingress exposes it at the environment\'s static IP.')
param kafkaPort int

@description('Port of the health endpoints (/healthz live, /ready readiness).')
param healthPort int = 8080

@description('Silo image; empty deploys a placeholder until azd has pushed the first image.')
param image string

param cpu string
param memory string
param environmentId string
param environmentStaticIp string
param identityId string
param identityClientId string
param registryServer string
param blobServiceUri string
param tableServiceUri string
param membershipTableName string
param segmentsContainerName string
param grainStateContainerName string
param clusterId string
param otlpEndpoint string = ''

@description('Broker-wide topic defaults under Kafka\'s broker keys (log.segment.bytes, ...); a topic\'s own config overrides them.')
param topicDefaults object = {}
param enableDashboard bool = false

@description('Key Vault secret URI of the silos\' TLS certificate (PKCS#12); empty leaves TLS off.')
param tlsCertificateSecretUri string = ''

@description('Optional Key Vault secret URI of a PEM bundle of client certificate authorities.')
param tlsClientCaSecretUri string = ''

@allowed(['None', 'Requested', 'Required'])
param tlsClientAuth string = 'None'
param tlsAllowedThumbprints string = ''

@description('Kafka users, each { name, secretUri }: a Key Vault secret holding the user\'s SCRAM-SHA-512 credential (orleansstream sasl scram-credential). With TLS on, any user makes the Kafka listener SASL_SSL.')
param kafkaSaslUsers array = []

@description('Kafka\'s sasl.oauthbearer.jwks.endpoint.url; set (with TLS on), the Kafka listener also takes OAUTHBEARER tokens signed by the JWKS\'s keys and is SASL_SSL.')
param kafkaOAuthBearerJwksEndpointUrl string = ''

@description('Kafka\'s sasl.oauthbearer.expected.audience (comma-separated); empty leaves it unset.')
param kafkaOAuthBearerExpectedAudience string = ''

@description('Kafka\'s sasl.oauthbearer.expected.issuer; empty leaves it unset.')
param kafkaOAuthBearerExpectedIssuer string = ''

@description('Kafka\'s sasl.oauthbearer.sub.claim.name; empty keeps the broker\'s default (sub).')
param kafkaOAuthBearerSubClaimName string = ''

@minValue(60)
@description('Time for a controlled shutdown: leadership hand-over, flush, leaving the membership table.')
param terminationGracePeriodSeconds int = 90

var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
var hasImage = !empty(image)
var dataPath = '/data'
// The placeholder image gets no certificate: the first provisioning runs before the hook has created it.
var tls = hasImage && !empty(tlsCertificateSecretUri)
var clientCa = tls && !empty(tlsClientCaSecretUri)
var tlsPath = '/mnt/tls'
// SASL_SSL presents the same Key Vault certificate as the silo and gateway ports.
var kafkaOAuthBearer = tls && !empty(kafkaOAuthBearerJwksEndpointUrl)
var kafkaSasl = tls && (!empty(kafkaSaslUsers) || kafkaOAuthBearer)
var kafkaProtocol = kafkaSasl ? 'SASL_SSL' : 'PLAINTEXT'

var baseEnv = [
  { name: 'Orleans__ClusterId', value: clusterId }
  { name: 'Orleans__ServiceId', value: 'orleansstream' }
  { name: 'Orleans__Endpoints__AdvertisedIPAddress', value: environmentStaticIp }
  { name: 'Orleans__Endpoints__SiloPort', value: string(siloPort) }
  { name: 'Orleans__Endpoints__GatewayPort', value: string(gatewayPort) }
  { name: 'Orleans__Endpoints__SiloListeningEndpoint', value: '0.0.0.0:${siloPort}' }
  { name: 'Orleans__Endpoints__GatewayListeningEndpoint', value: '0.0.0.0:${gatewayPort}' }
  // Membership in the storage account's table (Orleans' Azure Table clustering), with the managed identity.
  { name: 'Orleans__Clustering__ProviderType', value: 'AzureTableStorage' }
  { name: 'Orleans__Clustering__ServiceUri', value: tableServiceUri }
  { name: 'Orleans__Clustering__TableName', value: membershipTableName }
  { name: 'Orleans__Clustering__ManagedIdentityClientId', value: identityClientId }
  { name: 'OrleansStream__BrokerId', value: brokerId }
  { name: 'OrleansStream__DataDirectory', value: dataPath }
  { name: 'OrleansStream__HealthPort', value: string(healthPort) }
  // Kafka's listeners / advertised.listeners: Metadata gives clients the address that reaches this silo from the VNet.
  { name: 'OrleansStream__Listeners', value: '${kafkaProtocol}://0.0.0.0:${kafkaPort}' }
  { name: 'OrleansStream__AdvertisedListeners', value: '${kafkaProtocol}://${environmentStaticIp}:${kafkaPort}' }
  { name: 'OrleansStream__TierStore__Kind', value: 'AzureBlob' }
  { name: 'OrleansStream__TierStore__ServiceUri', value: blobServiceUri }
  { name: 'OrleansStream__TierStore__Container', value: segmentsContainerName }
  { name: 'OrleansStream__TierStore__ManagedIdentityClientId', value: identityClientId }
  // Controller and consumer-group state in Blob, through Orleans' provider model (grain storage "orleansstream").
  { name: 'Orleans__GrainStorage__orleansstream__ProviderType', value: 'AzureBlobStorage' }
  { name: 'Orleans__GrainStorage__orleansstream__ServiceUri', value: blobServiceUri }
  { name: 'Orleans__GrainStorage__orleansstream__ContainerName', value: grainStateContainerName }
  { name: 'Orleans__GrainStorage__orleansstream__ManagedIdentityClientId', value: identityClientId }
  { name: 'OrleansStream__Telemetry__Dashboard', value: string(enableDashboard) }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
]
// Dots become underscores: every environment variable name stays valid for shells and the platform; the broker maps them back.
var topicDefaultsEnv = [for item in items(topicDefaults): {
  name: 'OrleansStream__TopicDefaults__${replace(item.key, '.', '_')}'
  value: string(item.value)
}]
// Container Apps mounts the Key Vault secrets as files; the silo reads the base64 PKCS#12 as it is.
var tlsEnv = !tls ? [] : concat([
  { name: 'OrleansStream__Tls__CertificatePath', value: '${tlsPath}/silo.pfx' }
  { name: 'OrleansStream__Tls__ClientAuth', value: tlsClientAuth }
], clientCa ? [{ name: 'OrleansStream__Tls__CaPath', value: '${tlsPath}/client-ca.pem' }] : [],
  empty(tlsAllowedThumbprints) ? [] : [{ name: 'OrleansStream__Tls__AllowedThumbprints', value: tlsAllowedThumbprints }])
var tlsSecrets = !tls ? [] : concat([
  { name: 'silo-tls', keyVaultUrl: tlsCertificateSecretUri, identity: identityId }
], clientCa ? [{ name: 'client-ca', keyVaultUrl: tlsClientCaSecretUri, identity: identityId }] : [])
var tlsVolumeSecrets = !tls ? [] : concat([
  { secretRef: 'silo-tls', path: 'silo.pfx' }
], clientCa ? [{ secretRef: 'client-ca', path: 'client-ca.pem' }] : [])

// Each user's credential stays a Key Vault secret; the silo sees it as OrleansStream:Sasl:Users:<name>:ScramSha512.
var kafkaUserEnv = [for (user, i) in (kafkaSasl ? kafkaSaslUsers : []): {
  name: 'OrleansStream__Sasl__Users__${user.name}__ScramSha512'
  secretRef: 'kafka-user-${i}'
}]
var kafkaUserSecrets = [for (user, i) in (kafkaSasl ? kafkaSaslUsers : []): {
  name: 'kafka-user-${i}'
  keyVaultUrl: user.secretUri
  identity: identityId
}]

// OAUTHBEARER is opt-in (Kafka's sasl.enabled.mechanisms): beside SCRAM users it joins the broker's default mechanisms,
// which those users keep; alone, it is the only one, so no mechanism is offered that no credential could pass.
var kafkaOAuthBearerEnv = !kafkaOAuthBearer ? [] : concat([
  {
    name: 'OrleansStream__Sasl__EnabledMechanisms'
    value: empty(kafkaSaslUsers) ? 'OAUTHBEARER' : 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER'
  }
  { name: 'OrleansStream__Sasl__OAuthBearer__JwksEndpointUrl', value: kafkaOAuthBearerJwksEndpointUrl }
], empty(kafkaOAuthBearerExpectedAudience) ? [] : [{ name: 'OrleansStream__Sasl__OAuthBearer__ExpectedAudience', value: kafkaOAuthBearerExpectedAudience }],
  empty(kafkaOAuthBearerExpectedIssuer) ? [] : [{ name: 'OrleansStream__Sasl__OAuthBearer__ExpectedIssuer', value: kafkaOAuthBearerExpectedIssuer }],
  empty(kafkaOAuthBearerSubClaimName) ? [] : [{ name: 'OrleansStream__Sasl__OAuthBearer__SubClaimName', value: kafkaOAuthBearerSubClaimName }])

var otlpEnv = empty(otlpEndpoint) ? [] : [
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }
  { name: 'OTEL_SERVICE_NAME', value: 'orleansstream-${brokerId}' }
]

var probes = [
  {
    type: 'Startup'
    httpGet: { path: '/healthz', port: healthPort }
    initialDelaySeconds: 1
    periodSeconds: 3
    timeoutSeconds: 2
    failureThreshold: 10
  }
  {
    // Liveness answers from the process alone: never from storage or other silos.
    type: 'Liveness'
    httpGet: { path: '/healthz', port: healthPort }
    periodSeconds: 10
    timeoutSeconds: 3
    failureThreshold: 3
  }
  {
    type: 'Readiness'
    httpGet: { path: '/ready', port: healthPort }
    periodSeconds: 5
    timeoutSeconds: 3
    failureThreshold: 3
  }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: union(tags, empty(azdServiceName) ? {} : { 'azd-service-name': azdServiceName })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // The placeholder gets no ingress: the environment would add TCP probes on a port it does not listen on.
      ingress: hasImage ? {
        external: false
        transport: 'tcp'
        targetPort: siloPort
        exposedPort: siloPort
        additionalPortMappings: [
          {
            external: false
            targetPort: gatewayPort
            exposedPort: gatewayPort
          }
          {
            external: false
            targetPort: kafkaPort
            exposedPort: kafkaPort
          }
        ]
      } : null
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: concat(tlsSecrets, kafkaUserSecrets)
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'silo'
          image: hasImage ? image : placeholderImage
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          env: concat(baseEnv, topicDefaultsEnv, tlsEnv, kafkaUserEnv, kafkaOAuthBearerEnv, otlpEnv)
          probes: hasImage ? probes : []
          volumeMounts: concat([
            {
              volumeName: 'data'
              mountPath: dataPath
            }
          ], tls ? [{ volumeName: 'tls', mountPath: tlsPath }] : [])
        }
      ]
      volumes: concat([
        {
          name: 'data'
          storageType: 'EmptyDir'
        }
      ], tls ? [{ name: 'tls', storageType: 'Secret', secrets: tlsVolumeSecrets }] : [])
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output name string = app.name
output siloEndpoint string = '${environmentStaticIp}:${siloPort}'
output gatewayEndpoint string = '${environmentStaticIp}:${gatewayPort}'
output kafkaEndpoint string = '${environmentStaticIp}:${kafkaPort}'
