/** The user properties the transport itself uses; application properties may not take their names. */

/** User properties that carry what MQTT 5 has no field for; refused as application property names. */
export const MESSAGE_ID_PROPERTY = '$.mid';
export const CONTENT_ENCODING_PROPERTY = '$.ce';
/** Method response status (Azure IoT Operations SDK convention) and the sender's client id. */
export const STATUS_PROPERTY = '__stat';
export const SOURCE_ID_PROPERTY = '__srcId';

/** Names starting with `$.` or `__` belong to the transport. */
export function isReserved(name: string): boolean {
  return name.startsWith('$.') || name.startsWith('__');
}
