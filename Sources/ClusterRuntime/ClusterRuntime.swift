// ClusterRuntime
