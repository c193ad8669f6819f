/** The Blockflow Cloud control plane: public entry points. */
export { startCloudServer, defaultCloudDataDir, DEFAULT_CLOUD_PORT, type CloudServer, type CloudServerOptions, type CloudBootstrap } from './server.js';
export { mergeEnv, validateConfig, resolveDesired, ConfigError, VERSION_KEY, type ClusterConfig, type EnvEntry } from './clusterConfig.js';
export type { ClusterProvider, ClusterSpec, Observation, ObservedState, ObservedStatus } from './providers/types.js';
export { LocalProvider, defaultReplicaCommand, type LocalProviderOptions, type ReplicaCommand } from './providers/local/localProvider.js';
