/** MQTT 5 reason codes used by the adapter, and their MQTT 3.1.1 CONNACK equivalents. */
export const RC = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  ServerShuttingDown: 0x8b,
  SharedSubscriptionsNotSupported: 0x9e,
  SubscriptionIdentifiersNotSupported: 0xa1,
} as const;

/** MQTT 3.1 / 3.1.1 CONNACK return codes. */
export const CONNACK_V4 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

/** The MQTT 3.1.1 CONNACK return code for an MQTT 5 CONNACK reason code. */
export function connackCodeV4(rc: number): number {
  switch (rc) {
    case RC.Success: return CONNACK_V4.Accepted;
    case RC.UnsupportedProtocolVersion: return CONNACK_V4.UnacceptableProtocolVersion;
    case RC.ClientIdentifierNotValid: return CONNACK_V4.IdentifierRejected;
    case RC.BadUserNameOrPassword: return CONNACK_V4.BadUserNameOrPassword;
    case RC.NotAuthorized: return CONNACK_V4.NotAuthorized;
    default: return CONNACK_V4.ServerUnavailable;
  }
}
