export { createLocalPki, type LocalPki, type CertificatePair } from './pki.js';
export { startMosquitto, MOSQUITTO_BINARY, type MosquittoBroker, type MosquittoOptions } from './mosquitto.js';
export { startMqttSuite, waitReady, SUITE_MODULES, LOCAL_MQTT_USER, type MqttSuite, type MqttSuiteOptions, type ReplicaHandle, type SuiteModule } from './suite.js';
export { parseStartMqttArgs, runStartMqtt, waitUntilIdle, LOCAL_MQTT_CONFIG, START_MQTT_USAGE, type StartMqttArgs } from './run.js';
export { deriveK8sFiles, writeDerivedFiles, renderKustomize, K8S_CONFIG_OVERRIDES, K8S_MODULES, K8S_OVERLAYS, type DerivedFiles } from './k8s.js';
export { parseOperatorCommand, runOperatorCommand, EDGE_MQTT_USAGE, type OperatorCommand } from './operator-cli.js';
