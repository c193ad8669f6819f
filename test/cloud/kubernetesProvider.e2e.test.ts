/**
 * Opt-in: the same Kubernetes contract against a real cluster (kind, k3d, minikube...). Runs when KUBECONFIG is
 * set; the cluster's pods run BLOCKFLOW_K8S_E2E_IMAGE (default blockflow/blockflow:latest), which must serve
 * GET /api/status on port 6789. The control plane needs rights on namespaces, deployments, deployments/scale,
 * services and secrets (charts/blockflow's RBAC for the control plane, or cluster-admin on a throwaway cluster).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { kubernetesContract } from './kubernetesContract.js';

const image = (process.env.BLOCKFLOW_K8S_E2E_IMAGE ?? 'blockflow/blockflow:latest').split(':');

kubernetesContract(
  'Kubernetes provider against a real cluster (KUBECONFIG)',
  async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    return { kubeConfig, image: { repository: image[0], tag: image[1] ?? 'latest' }, canFailRollouts: false, close: async () => undefined };
  },
  { timeoutMs: 300_000, skip: process.env.KUBECONFIG ? false : 'set KUBECONFIG to run against a real cluster' },
);
