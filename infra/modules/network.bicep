// VNet for the internal Container Apps environment.
param name string
param location string
param tags object

param addressPrefix string = '10.40.0.0/16'
@description('Workload-profile environments need at least a /27, delegated to Microsoft.App/environments.')
param containerAppsSubnetPrefix string = '10.40.0.0/23'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'container-apps'
        properties: {
          addressPrefix: containerAppsSubnetPrefix
          delegations: [
            {
              name: 'container-apps'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
        }
      }
    ]
  }
}

output virtualNetworkId string = vnet.id
output containerAppsSubnetId string = vnet.properties.subnets[0].id
