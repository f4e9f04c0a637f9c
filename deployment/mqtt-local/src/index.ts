export { createLocalPki, type LocalPki, type CertificatePair } from './pki.js';
export { startMosquitto, MOSQUITTO_BINARY, type MosquittoBroker, type MosquittoOptions } from './mosquitto.js';
export { startMqttSuite, SUITE_MODULES, LOCAL_MQTT_USER, type MqttSuite, type MqttSuiteOptions, type ReplicaHandle, type SuiteModule } from './suite.js';
