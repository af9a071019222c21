/**
 * Field schemas of the built-in kinds the test cluster serves (Pod, Namespace, ConfigMap, Secret, ServiceAccount,
 * Service, apps/v1 Deployment/StatefulSet/DaemonSet, batch/v1 Job, resource.k8s.io/v1 DeviceClass, ResourceClaim,
 * ResourceClaimTemplate, ResourceSlice and v1beta2 DeviceTaintRule), authored here from the Kubernetes API's field
 * names and types (k8s.io/api core/v1, apps/v1, batch/v1, resource/v1 and resource/v1beta2 types.go, 1.34), with
 * descriptions in our own words. They are not copied from the official OpenAPI documents (which may not be copied
 * into the project). resource.k8s.io/v1 is served and checked with the official document of ../shared/k8s where it
 * exists; these schemas stand in for it on a fresh clone (and where a test starts the server with
 * `officialSchemas: false`). They feed these things:
 * - `/openapi/v3/<group-version>` documents with `components.schemas`, so `kubectl explain pods.spec.containers`
 *   shows fields as a real server's would;
 * - the pruning of unknown fields on writes (400 with `fieldValidation=Strict`, kubectl's default; a `Warning`
 *   header otherwise), as the real decoder does for these kinds;
 * - type checks on writes (string, int32/int64, bool, list, map, object, int-or-string, quantity): a wrong JSON type
 *   is a 400 with encoding/json's message, naming the Go struct, the field path and the Go type as the real decoder
 *   does (`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`); a null is
 *   accepted anywhere, as Go leaves the field at its zero value. `required` lists feed `kubectl explain`; the checks
 *   of required values are Go validation's and not emulated from the schema.
 *
 * What is not detailed (honest limits): `status` of every kind keeps unknown fields (the controllers and kubelets of
 * the test cluster write status; explain still lists the main status fields), and a few rarely used nested types
 * (most volume sources, update strategies, pod failure policies, resource claim statuses) are objects that keep
 * unknown fields, so they are shown as `<Object>` and never refused. Where ../shared/k8s exists, a test checks every
 * field of the PodTemplateSpec the LeaderWorkerSet CRD embeds is declared here.
 */
import { LIST_ATTRIBUTE_FIELDS } from './validation/resource.js';
import type { Schema } from './validation/schema.js';

const PREFIX: Record<string, string> = {
  core: 'io.k8s.api.core.v1.',
  apps: 'io.k8s.api.apps.v1.',
  batch: 'io.k8s.api.batch.v1.',
  meta: 'io.k8s.apimachinery.pkg.apis.meta.v1.',
  resource: 'io.k8s.api.resource.v1.',
  resourcev1beta2: 'io.k8s.api.resource.v1beta2.',
};

/** `core.Container` → `io.k8s.api.core.v1.Container`. */
function schemaName(short: string): string {
  const dot = short.indexOf('.');
  const prefix = PREFIX[short.slice(0, dot)];
  if (!prefix) throw new Error(`unknown schema prefix in ${short}`);
  return `${prefix}${short.slice(dot + 1)}`;
}

/**
 * A type: `fields` maps each field to `<type>|<description>`. Types: `s` string, `i` int32, `l` int64, `b` boolean,
 * `n` number, `t` timestamp, `q` quantity, `is` int-or-string, `o` an object kept as is, `[]T` list, `{}T` map, or
 * another type's short name (`core.Container`).
 */
interface TypeDef {
  d: string;
  f: Record<string, string>;
  req?: string[];
  /** keeps fields it does not declare (status) */
  open?: boolean;
  /** a kind: its group, version and kind */
  gvk?: { group: string; version: string; kind: string };
}

const meta = (kindDoc: string) => `meta.ObjectMeta|${kindDoc}`;
const TYPE_META = {
  apiVersion: 's|The versioned schema of this representation of the object (group/version).',
  kind: 's|The REST resource this object represents, in CamelCase.',
};

const CONTAINER_FIELDS: Record<string, string> = {
  name: 's|The container name: a DNS label, unique in the pod. Cannot be updated.',
  image: 's|The container image name.',
  command: '[]s|The entrypoint array, not run in a shell; the image ENTRYPOINT when absent. $(VAR) is expanded.',
  args: '[]s|Arguments to the entrypoint; the image CMD when absent. $(VAR) is expanded.',
  workingDir: 's|The working directory; the image default when absent.',
  ports: '[]core.ContainerPort|Ports the container exposes (informational; any port the process opens is reachable).',
  envFrom: '[]core.EnvFromSource|Sources whose keys become environment variables.',
  env: '[]core.EnvVar|Environment variables to set in the container.',
  resources: 'core.ResourceRequirements|Compute resources this container needs and may use.',
  resizePolicy: '[]core.ContainerResizePolicy|How each resource is resized in place.',
  restartPolicy: 's|Per-container restart policy; only "Always", for init containers that run as sidecars.',
  restartPolicyRules: '[]o|Rules on exit codes that decide whether the container restarts.',
  volumeMounts: '[]core.VolumeMount|Pod volumes mounted into the container file system.',
  volumeDevices: '[]core.VolumeDevice|Block devices the container uses.',
  livenessProbe: 'core.Probe|Restarts the container when it fails.',
  readinessProbe: 'core.Probe|Takes the pod out of service endpoints when it fails.',
  startupProbe: 'core.Probe|Holds the other probes until it succeeds once.',
  lifecycle: 'core.Lifecycle|Actions the system runs after start and before stop.',
  terminationMessagePath: 's|File whose content becomes the termination message.',
  terminationMessagePolicy: 's|"File" or "FallbackToLogsOnError".',
  imagePullPolicy: 's|"Always", "Never" or "IfNotPresent".',
  securityContext: 'core.SecurityContext|Security options of the container.',
  stdin: 'b|Whether the container has a stdin buffer.',
  stdinOnce: 'b|Whether stdin closes after the first attach ends.',
  tty: 'b|Whether the container gets a TTY.',
};

const TYPES: Record<string, TypeDef> = {
  // ---- meta/v1
  'meta.ObjectMeta': {
    d: 'Metadata every persisted resource has.',
    f: {
      name: 's|Unique within a namespace; required on create unless generateName is set. Cannot be updated.',
      generateName: 's|Prefix the server uses to generate a unique name when name is empty.',
      namespace: 's|The namespace the object lives in; empty for cluster-scoped kinds.',
      selfLink: 's|Deprecated and unset.',
      uid: 's|Unique id for this object in time and space, set by the server.',
      resourceVersion: 's|Opaque version of the object, for optimistic concurrency and watches.',
      generation: 'l|Sequence number of a specific generation of the desired state, set by the server.',
      creationTimestamp: 't|When the server created the object.',
      deletionTimestamp: 't|When the object will be deleted; set by the server on a graceful delete.',
      deletionGracePeriodSeconds: 'l|Seconds allowed for graceful termination before removal.',
      labels: '{}s|Key/value pairs to organise and select objects.',
      annotations: '{}s|Key/value pairs for tools and libraries, not selectable.',
      ownerReferences: '[]meta.OwnerReference|Objects this one depends on; deleted with the last of them.',
      finalizers: '[]s|Must be empty before the object is removed from storage.',
      managedFields: '[]meta.ManagedFieldsEntry|Which manager owns which fields (server-side apply).',
    },
  },
  'meta.OwnerReference': {
    d: 'An owner of an object, enough to identify it.',
    f: {
      apiVersion: 's|API version of the owner.',
      kind: 's|Kind of the owner.',
      name: 's|Name of the owner.',
      uid: 's|UID of the owner.',
      controller: 'b|Whether this owner is the managing controller.',
      blockOwnerDeletion: 'b|Whether the owner waits for this object in foreground deletion.',
    },
    req: ['apiVersion', 'kind', 'name', 'uid'],
  },
  'meta.ManagedFieldsEntry': {
    d: 'The fields one manager owns, and how it wrote them.',
    f: {
      manager: 's|Who manages the fields.',
      operation: 's|"Apply" or "Update".',
      apiVersion: 's|Version of the resource the fields are in.',
      time: 't|When the fields were last changed.',
      fieldsType: 's|Format of fieldsV1: "FieldsV1".',
      fieldsV1: 'o|The set of owned fields.',
      subresource: 's|The subresource written, when not the main resource.',
    },
  },
  'meta.LabelSelector': {
    d: 'A label query over a set of resources; the requirements are ANDed.',
    f: {
      matchLabels: '{}s|Labels that must equal the given values.',
      matchExpressions: '[]meta.LabelSelectorRequirement|Set-based requirements.',
    },
  },
  'meta.LabelSelectorRequirement': {
    d: 'A selector requirement: a key, an operator and values.',
    f: {
      key: 's|The label key.',
      operator: 's|"In", "NotIn", "Exists" or "DoesNotExist".',
      values: '[]s|Values for In and NotIn; empty for Exists and DoesNotExist.',
    },
    req: ['key', 'operator'],
  },

  // ---- core/v1: pods
  'core.Pod': {
    d: 'A group of containers run together on one node.',
    gvk: { group: '', version: 'v1', kind: 'Pod' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'core.PodSpec|The desired behaviour of the pod.',
      status: 'core.PodStatus|The most recently observed state of the pod (read-only).',
    },
  },
  'core.PodTemplateSpec': {
    d: 'What a controller creates pods from.',
    f: {
      metadata: meta('Metadata of the pods created from this template.'),
      spec: 'core.PodSpec|Specification of the pods created from this template.',
    },
  },
  'core.PodSpec': {
    d: 'The specification of a pod.',
    f: {
      volumes: '[]core.Volume|Volumes the containers may mount.',
      initContainers: '[]core.Container|Containers run in order before the app containers start.',
      containers: '[]core.Container|The containers of the pod; at least one. Cannot be updated.',
      ephemeralContainers: '[]core.EphemeralContainer|Debugging containers added to a running pod.',
      restartPolicy: 's|"Always", "OnFailure" or "Never".',
      terminationGracePeriodSeconds: 'l|Seconds between SIGTERM and SIGKILL when the pod is deleted.',
      activeDeadlineSeconds: 'l|Seconds the pod may be active before the system fails it.',
      dnsPolicy: 's|"ClusterFirstWithHostNet", "ClusterFirst", "Default" or "None".',
      nodeSelector: '{}s|Labels a node must carry for the pod to fit it.',
      serviceAccountName: 's|The ServiceAccount the pod runs as.',
      serviceAccount: 's|Deprecated alias of serviceAccountName.',
      automountServiceAccountToken: 'b|Whether the service-account token is mounted.',
      nodeName: 's|The node the pod is bound to; set by the scheduler through the binding subresource.',
      hostNetwork: 'b|Use the node network namespace.',
      hostPID: 'b|Use the node PID namespace.',
      hostIPC: 'b|Use the node IPC namespace.',
      shareProcessNamespace: 'b|One PID namespace for all containers of the pod.',
      securityContext: 'core.PodSecurityContext|Pod-level security attributes.',
      imagePullSecrets: '[]core.LocalObjectReference|Secrets used to pull images.',
      hostname: 's|The pod hostname; the pod name when absent.',
      subdomain: 's|With a headless Service of this name, the pod gets a DNS name under it.',
      affinity: 'core.Affinity|Scheduling constraints.',
      schedulerName: 's|The scheduler that places the pod.',
      tolerations: '[]core.Toleration|Taints the pod tolerates.',
      hostAliases: '[]core.HostAlias|Entries added to the pod hosts file.',
      priorityClassName: 's|The priority class of the pod.',
      priority: 'i|The priority value, from the priority class.',
      dnsConfig: 'core.PodDNSConfig|DNS parameters besides those of dnsPolicy.',
      readinessGates: '[]core.PodReadinessGate|Conditions that must be True for the pod to be ready.',
      runtimeClassName: 's|The RuntimeClass the pod runs with.',
      enableServiceLinks: 'b|Whether Service variables are injected into the environment.',
      preemptionPolicy: 's|"PreemptLowerPriority" or "Never".',
      overhead: '{}q|Resources the pod sandbox uses.',
      topologySpreadConstraints: '[]core.TopologySpreadConstraint|How pods spread over topology domains.',
      setHostnameAsFQDN: 'b|Whether the hostname is the fully qualified domain name.',
      os: 'core.PodOS|The operating system the containers need.',
      hostUsers: 'b|Whether the pod uses the host user namespace.',
      schedulingGates: '[]core.PodSchedulingGate|Gates that hold the pod back from scheduling while present.',
      resourceClaims: '[]core.PodResourceClaim|ResourceClaims (DRA) the pod needs, by the name containers use.',
      resources: 'core.ResourceRequirements|Pod-level resources.',
      hostnameOverride: 's|A hostname that replaces the generated one.',
      workloadRef:
        'o|1.35 (gate GenericWorkload): the Workload and pod group this pod belongs to, for gang scheduling.',
      schedulingGroup: 'o|1.36+ (gate GenericWorkload): the PodGroup this pod is scheduled with.',
    },
    req: ['containers'],
  },
  'core.Container': { d: 'A single application container of a pod.', f: CONTAINER_FIELDS, req: ['name'] },
  'core.EphemeralContainer': {
    d: 'A temporary container added to a running pod for debugging.',
    f: { ...CONTAINER_FIELDS, targetContainerName: 's|The container whose namespaces this one joins.' },
    req: ['name'],
  },
  'core.ContainerPort': {
    d: 'A network port of a container.',
    f: {
      name: 's|An IANA_SVC_NAME, unique in the pod, that Services can refer to.',
      hostPort: 'i|Port on the host to expose.',
      containerPort: 'i|Port on the pod IP.',
      protocol: 's|"TCP", "UDP" or "SCTP".',
      hostIP: 's|Host IP the host port binds to.',
    },
    req: ['containerPort'],
  },
  'core.EnvVar': {
    d: 'An environment variable of a container.',
    f: {
      name: 's|The variable name.',
      value: 's|The value; $(VAR) references are expanded.',
      valueFrom: 'core.EnvVarSource|Where the value comes from, instead of value.',
    },
    req: ['name'],
  },
  'core.EnvVarSource': {
    d: 'A source for an environment variable value.',
    f: {
      fieldRef: 'core.ObjectFieldSelector|A field of the pod.',
      resourceFieldRef: 'core.ResourceFieldSelector|A resource limit or request of a container.',
      configMapKeyRef: 'core.ConfigMapKeySelector|A key of a ConfigMap.',
      secretKeyRef: 'core.SecretKeySelector|A key of a Secret.',
      fileKeyRef: 'o|A key of an env file in a volume.',
    },
  },
  'core.ObjectFieldSelector': {
    d: 'Selects a field of the object.',
    f: { apiVersion: 's|Version of the schema the path is written in.', fieldPath: 's|Path of the field.' },
    req: ['fieldPath'],
  },
  'core.ResourceFieldSelector': {
    d: 'Selects a resource of a container.',
    f: {
      containerName: 's|The container; required for volumes.',
      resource: 's|The resource to select.',
      divisor: 'q|Output format of the exposed resource.',
    },
    req: ['resource'],
  },
  'core.ConfigMapKeySelector': {
    d: 'Selects a key of a ConfigMap.',
    f: { name: 's|The ConfigMap.', key: 's|The key.', optional: 'b|Whether the ConfigMap or key may be missing.' },
    req: ['key'],
  },
  'core.SecretKeySelector': {
    d: 'Selects a key of a Secret.',
    f: { name: 's|The Secret.', key: 's|The key.', optional: 'b|Whether the Secret or key may be missing.' },
    req: ['key'],
  },
  'core.EnvFromSource': {
    d: 'A source of a set of environment variables.',
    f: {
      prefix: 's|Prepended to every key.',
      configMapRef: 'core.ConfigMapEnvSource|The ConfigMap to read.',
      secretRef: 'core.SecretEnvSource|The Secret to read.',
    },
  },
  'core.ConfigMapEnvSource': {
    d: 'A ConfigMap whose keys become variables.',
    f: { name: 's|The ConfigMap.', optional: 'b|Whether it may be missing.' },
  },
  'core.SecretEnvSource': {
    d: 'A Secret whose keys become variables.',
    f: { name: 's|The Secret.', optional: 'b|Whether it may be missing.' },
  },
  'core.ResourceRequirements': {
    d: 'Compute resource requirements.',
    f: {
      limits: '{}q|The most of each resource allowed.',
      requests: '{}q|The least of each resource needed; defaults to limits.',
      claims: '[]core.ResourceClaim|Entries of the pod resourceClaims this container uses (DRA).',
    },
  },
  'core.ResourceClaim': {
    d: 'A reference to one entry of the pod resourceClaims.',
    f: { name: 's|The name of the entry in pod.spec.resourceClaims.', request: 's|Only this request of the claim.' },
    req: ['name'],
  },
  'core.ContainerResizePolicy': {
    d: 'How a resource of a container is resized.',
    f: { resourceName: 's|The resource: cpu or memory.', restartPolicy: 's|"NotRequired" or "RestartContainer".' },
    req: ['resourceName', 'restartPolicy'],
  },
  'core.VolumeMount': {
    d: 'A volume mounted into a container.',
    f: {
      name: 's|The volume, by name.',
      readOnly: 'b|Mounted read-only.',
      recursiveReadOnly: 's|"Disabled", "IfPossible" or "Enabled".',
      mountPath: 's|Path in the container.',
      subPath: 's|Path within the volume to mount.',
      mountPropagation: 's|"None", "HostToContainer" or "Bidirectional".',
      subPathExpr: 's|Like subPath, with $(VAR) expanded.',
    },
    req: ['name', 'mountPath'],
  },
  'core.VolumeDevice': {
    d: 'A raw block volume mapped into a container.',
    f: { name: 's|The PersistentVolumeClaim volume.', devicePath: 's|Path of the device in the container.' },
    req: ['name', 'devicePath'],
  },
  'core.Probe': {
    d: 'A health check of a container.',
    f: {
      exec: 'core.ExecAction|A command; exit 0 passes.',
      httpGet: 'core.HTTPGetAction|An HTTP GET; 200–399 passes.',
      tcpSocket: 'core.TCPSocketAction|A TCP connection; opening passes.',
      grpc: 'core.GRPCAction|A gRPC health check.',
      initialDelaySeconds: 'i|Seconds after start before probing.',
      timeoutSeconds: 'i|Seconds before a probe times out.',
      periodSeconds: 'i|Seconds between probes.',
      successThreshold: 'i|Passes in a row to count as passing.',
      failureThreshold: 'i|Failures in a row to count as failing.',
      terminationGracePeriodSeconds: 'l|Grace period when a failed probe stops the container.',
    },
  },
  'core.ExecAction': { d: 'A command to run.', f: { command: '[]s|The command line, not run in a shell.' } },
  'core.HTTPGetAction': {
    d: 'An HTTP GET request.',
    f: {
      path: 's|Path to request.',
      port: 'is|Port number or name.',
      host: 's|Host to connect to; the pod IP when absent.',
      scheme: 's|"HTTP" or "HTTPS".',
      httpHeaders: '[]core.HTTPHeader|Headers to send.',
    },
    req: ['port'],
  },
  'core.HTTPHeader': {
    d: 'An HTTP header.',
    f: { name: 's|Header name.', value: 's|Header value.' },
    req: ['name', 'value'],
  },
  'core.TCPSocketAction': {
    d: 'A TCP connection to open.',
    f: { port: 'is|Port number or name.', host: 's|Host to connect to; the pod IP when absent.' },
    req: ['port'],
  },
  'core.GRPCAction': {
    d: 'A gRPC health check.',
    f: { port: 'i|Port number.', service: 's|Service name sent in the HealthCheckRequest.' },
    req: ['port'],
  },
  'core.Lifecycle': {
    d: 'Actions run at container lifecycle events.',
    f: {
      postStart: 'core.LifecycleHandler|Runs right after the container starts.',
      preStop: 'core.LifecycleHandler|Runs before the container is stopped.',
      stopSignal: 's|The signal that stops the container.',
    },
  },
  'core.LifecycleHandler': {
    d: 'One lifecycle action.',
    f: {
      exec: 'core.ExecAction|A command.',
      httpGet: 'core.HTTPGetAction|An HTTP GET.',
      tcpSocket: 'core.TCPSocketAction|Deprecated: a TCP connection.',
      sleep: 'core.SleepAction|A pause.',
    },
  },
  'core.SleepAction': { d: 'A pause.', f: { seconds: 'l|Seconds to sleep.' }, req: ['seconds'] },
  'core.SecurityContext': {
    d: 'Security options of a container; they win over the pod ones.',
    f: {
      capabilities: 'core.Capabilities|Capabilities added and dropped.',
      privileged: 'b|Run as privileged.',
      seLinuxOptions: 'o|SELinux context.',
      windowsOptions: 'o|Windows options.',
      runAsUser: 'l|UID of the entrypoint process.',
      runAsGroup: 'l|GID of the entrypoint process.',
      runAsNonRoot: 'b|Refuse to start as UID 0.',
      readOnlyRootFilesystem: 'b|Mount the root file system read-only.',
      allowPrivilegeEscalation: 'b|Whether a process may gain more privileges than its parent.',
      procMount: 's|"Default" or "Unmasked".',
      seccompProfile: 'o|The seccomp profile.',
      appArmorProfile: 'o|The AppArmor profile.',
    },
  },
  'core.Capabilities': {
    d: 'POSIX capabilities added to and dropped from a container.',
    f: { add: '[]s|Capabilities added.', drop: '[]s|Capabilities dropped.' },
  },
  'core.PodSecurityContext': {
    d: 'Security attributes of every container of a pod.',
    f: {
      seLinuxOptions: 'o|SELinux context.',
      windowsOptions: 'o|Windows options.',
      runAsUser: 'l|UID of the entrypoint processes.',
      runAsGroup: 'l|GID of the entrypoint processes.',
      runAsNonRoot: 'b|Refuse to start containers as UID 0.',
      supplementalGroups: '[]l|Groups added to each container process.',
      supplementalGroupsPolicy: 's|"Merge" or "Strict".',
      fsGroup: 'l|Group that owns volumes.',
      fsGroupChangePolicy: 's|"OnRootMismatch" or "Always".',
      sysctls: '[]o|Namespaced sysctls set for the pod.',
      seccompProfile: 'o|The seccomp profile.',
      appArmorProfile: 'o|The AppArmor profile.',
      seLinuxChangePolicy: 's|"Recursive" or "MountOption".',
    },
  },
  'core.LocalObjectReference': { d: 'A reference to an object in the same namespace.', f: { name: 's|Its name.' } },
  'core.Volume': {
    d: 'A named volume of a pod; exactly one source.',
    f: {
      name: 's|The volume name: a DNS label, unique in the pod.',
      hostPath: 'core.HostPathVolumeSource|A file or directory of the node.',
      emptyDir: 'core.EmptyDirVolumeSource|A directory that lives as long as the pod.',
      secret: 'core.SecretVolumeSource|A Secret.',
      configMap: 'core.ConfigMapVolumeSource|A ConfigMap.',
      projected: 'core.ProjectedVolumeSource|Several sources in one directory.',
      downwardAPI: 'core.DownwardAPIVolumeSource|Fields of the pod.',
      persistentVolumeClaim: 'core.PersistentVolumeClaimVolumeSource|A PersistentVolumeClaim.',
      ephemeral: 'o|A volume provisioned for the pod and deleted with it.',
      csi: 'o|A CSI driver volume.',
      image: 'o|An OCI image or artifact.',
      nfs: 'o|An NFS share.',
      iscsi: 'o|An iSCSI disk.',
      fc: 'o|A Fibre Channel disk.',
      gcePersistentDisk: 'o|Deprecated: a GCE disk.',
      awsElasticBlockStore: 'o|Deprecated: an AWS disk.',
      azureDisk: 'o|Deprecated: an Azure disk.',
      azureFile: 'o|Deprecated: an Azure file share.',
      gitRepo: 'o|Deprecated: a git repository.',
      glusterfs: 'o|Removed: GlusterFS.',
      rbd: 'o|Deprecated: a Rados block device.',
      flexVolume: 'o|Deprecated: a FlexVolume plugin.',
      cinder: 'o|Deprecated: an OpenStack Cinder volume.',
      cephfs: 'o|Deprecated: CephFS.',
      flocker: 'o|Deprecated: Flocker.',
      vsphereVolume: 'o|Deprecated: a vSphere volume.',
      quobyte: 'o|Deprecated: Quobyte.',
      photonPersistentDisk: 'o|Deprecated: Photon.',
      portworxVolume: 'o|Deprecated: Portworx.',
      scaleIO: 'o|Deprecated: ScaleIO.',
      storageos: 'o|Deprecated: StorageOS.',
    },
    req: ['name'],
  },
  'core.HostPathVolumeSource': {
    d: 'A path on the node.',
    f: { path: 's|The path on the node.', type: 's|What must be there: "", "Directory", "File", "Socket"…' },
    req: ['path'],
  },
  'core.EmptyDirVolumeSource': {
    d: 'An empty directory for the life of the pod.',
    f: { medium: 's|"" (the node disk) or "Memory".', sizeLimit: 'q|The most it may hold.' },
  },
  'core.KeyToPath': {
    d: 'A key projected to a path.',
    f: { key: 's|The key.', path: 's|Relative path to write it to.', mode: 'i|File mode bits.' },
    req: ['key', 'path'],
  },
  'core.SecretVolumeSource': {
    d: 'A Secret as files.',
    f: {
      secretName: 's|The Secret.',
      items: '[]core.KeyToPath|Keys to project; all when absent.',
      defaultMode: 'i|File mode bits.',
      optional: 'b|Whether it may be missing.',
    },
  },
  'core.ConfigMapVolumeSource': {
    d: 'A ConfigMap as files.',
    f: {
      name: 's|The ConfigMap.',
      items: '[]core.KeyToPath|Keys to project; all when absent.',
      defaultMode: 'i|File mode bits.',
      optional: 'b|Whether it may be missing.',
    },
  },
  'core.ProjectedVolumeSource': {
    d: 'Several sources projected into one directory.',
    f: { sources: '[]core.VolumeProjection|The sources.', defaultMode: 'i|File mode bits.' },
  },
  'core.VolumeProjection': {
    d: 'One source of a projected volume.',
    f: {
      secret: 'o|A Secret.',
      configMap: 'o|A ConfigMap.',
      downwardAPI: 'o|Fields of the pod.',
      serviceAccountToken: 'core.ServiceAccountTokenProjection|A service-account token.',
      clusterTrustBundle: 'o|A ClusterTrustBundle.',
      podCertificate: 'o|A pod certificate.',
    },
  },
  'core.ServiceAccountTokenProjection': {
    d: 'A token of the pod service account, rotated by the kubelet.',
    f: {
      audience: 's|Who the token is for.',
      expirationSeconds: 'l|Requested lifetime.',
      path: 's|Relative path of the file.',
    },
    req: ['path'],
  },
  'core.DownwardAPIVolumeSource': {
    d: 'Pod fields as files.',
    f: { items: '[]o|The files.', defaultMode: 'i|File mode bits.' },
  },
  'core.PersistentVolumeClaimVolumeSource': {
    d: 'A PersistentVolumeClaim in the pod namespace.',
    f: { claimName: 's|The claim.', readOnly: 'b|Mount read-only.' },
    req: ['claimName'],
  },
  'core.Toleration': {
    d: 'Lets a pod onto nodes with a matching taint.',
    f: {
      key: 's|The taint key; empty with Exists matches every key.',
      operator: 's|"Exists" or "Equal".',
      value: 's|The taint value, for Equal.',
      effect: 's|"NoSchedule", "PreferNoSchedule" or "NoExecute"; empty matches all.',
      tolerationSeconds: 'l|How long a NoExecute taint is tolerated.',
    },
  },
  'core.Affinity': {
    d: 'Scheduling constraints.',
    f: {
      nodeAffinity: 'core.NodeAffinity|Constraints on the node.',
      podAffinity: 'core.PodAffinity|Co-locate with other pods.',
      podAntiAffinity: 'core.PodAntiAffinity|Keep away from other pods.',
    },
  },
  'core.NodeAffinity': {
    d: 'Node constraints.',
    f: {
      requiredDuringSchedulingIgnoredDuringExecution: 'core.NodeSelector|Must hold at scheduling.',
      preferredDuringSchedulingIgnoredDuringExecution: '[]core.PreferredSchedulingTerm|Weighted preferences.',
    },
  },
  'core.NodeSelector': {
    d: 'Terms of which one must match (ORed).',
    f: { nodeSelectorTerms: '[]core.NodeSelectorTerm|The terms.' },
    req: ['nodeSelectorTerms'],
  },
  'core.NodeSelectorTerm': {
    d: 'Requirements that must all match (ANDed).',
    f: {
      matchExpressions: '[]core.NodeSelectorRequirement|On node labels.',
      matchFields: '[]core.NodeSelectorRequirement|On node fields.',
    },
  },
  'core.NodeSelectorRequirement': {
    d: 'A key, an operator and values.',
    f: {
      key: 's|The label key or field.',
      operator: 's|"In", "NotIn", "Exists", "DoesNotExist", "Gt" or "Lt".',
      values: '[]s|The values.',
    },
    req: ['key', 'operator'],
  },
  'core.PreferredSchedulingTerm': {
    d: 'A weighted node preference.',
    f: { weight: 'i|1–100.', preference: 'core.NodeSelectorTerm|The term.' },
    req: ['weight', 'preference'],
  },
  'core.PodAffinity': {
    d: 'Pods to be placed with.',
    f: {
      requiredDuringSchedulingIgnoredDuringExecution: '[]core.PodAffinityTerm|Must hold at scheduling.',
      preferredDuringSchedulingIgnoredDuringExecution: '[]core.WeightedPodAffinityTerm|Weighted preferences.',
    },
  },
  'core.PodAntiAffinity': {
    d: 'Pods to be kept away from.',
    f: {
      requiredDuringSchedulingIgnoredDuringExecution: '[]core.PodAffinityTerm|Must hold at scheduling.',
      preferredDuringSchedulingIgnoredDuringExecution: '[]core.WeightedPodAffinityTerm|Weighted preferences.',
    },
  },
  'core.PodAffinityTerm': {
    d: 'Pods matching a selector in a topology domain.',
    f: {
      labelSelector: 'meta.LabelSelector|The pods.',
      namespaces: '[]s|Namespaces to look in.',
      topologyKey: 's|The node label that defines the domain.',
      namespaceSelector: 'meta.LabelSelector|Namespaces to look in, by label.',
      matchLabelKeys: '[]s|Label keys whose values of this pod are added to the selector.',
      mismatchLabelKeys: '[]s|Label keys whose values of this pod must differ.',
    },
    req: ['topologyKey'],
  },
  'core.WeightedPodAffinityTerm': {
    d: 'A weighted pod affinity term.',
    f: { weight: 'i|1–100.', podAffinityTerm: 'core.PodAffinityTerm|The term.' },
    req: ['weight', 'podAffinityTerm'],
  },
  'core.TopologySpreadConstraint': {
    d: 'How matching pods spread over a topology.',
    f: {
      maxSkew: 'i|The most the count may differ between domains.',
      topologyKey: 's|The node label that defines the domains.',
      whenUnsatisfiable: 's|"DoNotSchedule" or "ScheduleAnyway".',
      labelSelector: 'meta.LabelSelector|The pods counted.',
      minDomains: 'i|The least number of eligible domains.',
      nodeAffinityPolicy: 's|"Honor" or "Ignore".',
      nodeTaintsPolicy: 's|"Honor" or "Ignore".',
      matchLabelKeys: '[]s|Label keys whose values of this pod are added to the selector.',
    },
    req: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
  },
  'core.HostAlias': {
    d: 'An entry of the pod hosts file.',
    f: { ip: 's|The IP address.', hostnames: '[]s|Names for it.' },
    req: ['ip'],
  },
  'core.PodDNSConfig': {
    d: 'DNS parameters of a pod.',
    f: { nameservers: '[]s|Name server IPs.', searches: '[]s|Search domains.', options: '[]o|Resolver options.' },
  },
  'core.PodReadinessGate': {
    d: 'A pod condition that must be True for readiness.',
    f: { conditionType: 's|The condition type.' },
    req: ['conditionType'],
  },
  'core.PodSchedulingGate': { d: 'A gate that holds scheduling.', f: { name: 's|The gate.' }, req: ['name'] },
  'core.PodOS': { d: 'The operating system of a pod.', f: { name: 's|"linux" or "windows".' }, req: ['name'] },
  'core.PodResourceClaim': {
    d: 'A ResourceClaim (DRA) the pod uses, by the name its containers refer to.',
    f: {
      name: 's|The name containers use in resources.claims.',
      resourceClaimName: 's|An existing ResourceClaim.',
      resourceClaimTemplateName: 's|A ResourceClaimTemplate a claim is made from for this pod.',
    },
    req: ['name'],
  },
  'core.PodStatus': {
    d: 'The observed state of a pod.',
    open: true,
    f: {
      observedGeneration: 'l|The pod generation this status reflects.',
      phase: 's|"Pending", "Running", "Succeeded", "Failed" or "Unknown".',
      conditions: '[]core.PodCondition|Current service state.',
      message: 's|Why the pod is in this condition.',
      reason: 's|A brief CamelCase reason.',
      nominatedNodeName: 's|Node the pod may go to after preemption.',
      hostIP: 's|IP of the node.',
      hostIPs: '[]o|IPs of the node.',
      podIP: 's|IP of the pod.',
      podIPs: '[]o|IPs of the pod.',
      startTime: 't|When the kubelet acknowledged the pod.',
      initContainerStatuses: '[]core.ContainerStatus|Status of the init containers.',
      containerStatuses: '[]core.ContainerStatus|Status of the containers.',
      ephemeralContainerStatuses: '[]core.ContainerStatus|Status of the ephemeral containers.',
      qosClass: 's|"Guaranteed", "Burstable" or "BestEffort".',
      resize: 's|Deprecated: state of an in-place resize.',
      resourceClaimStatuses: '[]o|Names of the ResourceClaims made for the pod.',
      extendedResourceClaimStatus: 'o|The claim made for extended resources.',
    },
  },
  'core.PodCondition': {
    d: 'One condition of a pod.',
    open: true,
    f: {
      type: 's|The condition type.',
      observedGeneration: 'l|The pod generation it reflects.',
      status: 's|"True", "False" or "Unknown".',
      lastProbeTime: 't|When it was last probed.',
      lastTransitionTime: 't|When the status last changed.',
      reason: 's|Why, in CamelCase.',
      message: 's|Why, for people.',
    },
    req: ['type', 'status'],
  },
  'core.ContainerStatus': {
    d: 'The observed state of one container.',
    open: true,
    f: {
      name: 's|The container.',
      state: 'o|Its current state: waiting, running or terminated.',
      lastTerminationState: 'o|Its last termination.',
      ready: 'b|Whether its readiness probe passes.',
      restartCount: 'i|How often it restarted.',
      image: 's|The image it runs.',
      imageID: 's|The image id.',
      containerID: 's|The container id: <type>://<id>.',
      started: 'b|Whether it started and passed its startup probe.',
      allocatedResources: '{}q|Resources the node allocated.',
      resources: 'o|Resources configured in the runtime.',
      volumeMounts: '[]o|Mounts as the runtime reports them.',
      user: 'o|The identity the first process runs as.',
      allocatedResourcesStatus: '[]o|Health of the devices it was given (DRA and device plugins).',
      stopSignal: 's|The signal that stops it.',
    },
  },

  // ---- core/v1: other kinds
  'core.Namespace': {
    d: 'A scope for names.',
    gvk: { group: '', version: 'v1', kind: 'Namespace' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'core.NamespaceSpec|What the namespace should be.',
      status: 'o|Its phase and conditions.',
    },
  },
  'core.NamespaceSpec': { d: 'The namespace specification.', f: { finalizers: '[]s|Finalizers run before removal.' } },
  'core.ConfigMap': {
    d: 'Configuration data for pods.',
    gvk: { group: '', version: 'v1', kind: 'ConfigMap' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      immutable: 'b|When true, the data can no longer change.',
      data: '{}s|UTF-8 values by key.',
      binaryData: '{}s|Base64 binary values by key.',
    },
  },
  'core.Secret': {
    d: 'Sensitive data for pods.',
    gvk: { group: '', version: 'v1', kind: 'Secret' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      immutable: 'b|When true, the data can no longer change.',
      data: '{}s|Base64 values by key.',
      stringData: '{}s|Plain values by key, merged into data on write.',
      type: 's|How the data is used (e.g. kubernetes.io/service-account-token, Opaque).',
    },
  },
  'core.ServiceAccount': {
    d: 'An identity for processes in pods.',
    gvk: { group: '', version: 'v1', kind: 'ServiceAccount' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      secrets: '[]o|Deprecated: Secrets of the account.',
      imagePullSecrets: '[]core.LocalObjectReference|Secrets pods of this account pull images with.',
      automountServiceAccountToken: 'b|Whether pods mount a token by default.',
    },
  },
  'core.Service': {
    d: 'A named abstraction of a set of pods, with an address.',
    gvk: { group: '', version: 'v1', kind: 'Service' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'core.ServiceSpec|What the service should be.',
      status: 'o|Load balancer and conditions.',
    },
  },
  'core.ServiceSpec': {
    d: 'The service specification.',
    f: {
      ports: '[]core.ServicePort|The ports the service exposes.',
      selector: '{}s|The pods it routes to, by label.',
      clusterIP: 's|The virtual IP; "None" for a headless service.',
      clusterIPs: '[]s|The virtual IPs, one per family.',
      type: 's|"ClusterIP", "NodePort", "LoadBalancer" or "ExternalName".',
      externalIPs: '[]s|Node IPs that also accept its traffic.',
      sessionAffinity: 's|"ClientIP" or "None".',
      loadBalancerIP: 's|Deprecated: requested load-balancer IP.',
      loadBalancerSourceRanges: '[]s|Client ranges a load balancer admits.',
      externalName: 's|The DNS name an ExternalName service aliases.',
      externalTrafficPolicy: 's|"Cluster" or "Local".',
      healthCheckNodePort: 'i|Health-check node port of a Local load balancer.',
      publishNotReadyAddresses: 'b|Whether DNS lists pods that are not ready.',
      sessionAffinityConfig: 'o|Session affinity settings.',
      ipFamilies: '[]s|"IPv4", "IPv6".',
      ipFamilyPolicy: 's|"SingleStack", "PreferDualStack" or "RequireDualStack".',
      allocateLoadBalancerNodePorts: 'b|Whether node ports are allocated for a load balancer.',
      loadBalancerClass: 's|The load-balancer implementation.',
      internalTrafficPolicy: 's|"Cluster" or "Local".',
      trafficDistribution: 's|Preference for how traffic is spread.',
    },
  },
  'core.ServicePort': {
    d: 'A port of a service.',
    f: {
      name: 's|The port name; required with several ports.',
      protocol: 's|"TCP", "UDP" or "SCTP".',
      appProtocol: 's|The application protocol.',
      port: 'i|The port the service exposes.',
      targetPort: 'is|The pod port, by number or name.',
      nodePort: 'i|The node port, for NodePort and LoadBalancer.',
    },
    req: ['port'],
  },

  // ---- apps/v1, batch/v1
  'apps.Deployment': {
    d: 'Declarative updates of a set of identical pods.',
    gvk: { group: 'apps', version: 'v1', kind: 'Deployment' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'apps.DeploymentSpec|The desired state.',
      status: 'o|The observed state.',
    },
  },
  'apps.DeploymentSpec': {
    d: 'The desired state of a Deployment.',
    f: {
      replicas: 'i|Desired pods; 1 when absent.',
      selector: 'meta.LabelSelector|The pods it manages; must match the template labels.',
      template: 'core.PodTemplateSpec|The pods it creates.',
      strategy: 'o|How old pods are replaced: Recreate or RollingUpdate.',
      minReadySeconds: 'i|Seconds a new pod must be ready to count as available.',
      revisionHistoryLimit: 'i|Old ReplicaSets kept for rollback.',
      paused: 'b|Whether rollouts are paused.',
      progressDeadlineSeconds: 'i|Seconds before a stalled rollout is reported.',
    },
    req: ['selector', 'template'],
  },
  'apps.StatefulSet': {
    d: 'Pods with stable identities and storage, created in order.',
    gvk: { group: 'apps', version: 'v1', kind: 'StatefulSet' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'apps.StatefulSetSpec|The desired state.',
      status: 'o|The observed state.',
    },
  },
  'apps.StatefulSetSpec': {
    d: 'The desired state of a StatefulSet.',
    f: {
      replicas: 'i|Desired pods; 1 when absent.',
      selector: 'meta.LabelSelector|The pods it manages; must match the template labels.',
      template: 'core.PodTemplateSpec|The pods it creates, named <set>-<ordinal>.',
      volumeClaimTemplates: '[]o|PersistentVolumeClaims made for each pod.',
      serviceName: 's|The headless Service that gives the pods DNS names.',
      podManagementPolicy: 's|"OrderedReady" or "Parallel".',
      updateStrategy: 'o|How pods are replaced on a template change.',
      revisionHistoryLimit: 'i|Revisions kept.',
      minReadySeconds: 'i|Seconds a new pod must be ready to count as available.',
      persistentVolumeClaimRetentionPolicy: 'o|What happens to claims on scale-down and deletion.',
      ordinals: 'o|The first ordinal.',
    },
    req: ['selector', 'template'],
  },
  'apps.DaemonSet': {
    d: 'One pod on each eligible node.',
    gvk: { group: 'apps', version: 'v1', kind: 'DaemonSet' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'apps.DaemonSetSpec|The desired state.',
      status: 'o|The observed state.',
    },
  },
  'apps.DaemonSetSpec': {
    d: 'The desired state of a DaemonSet.',
    f: {
      selector: 'meta.LabelSelector|The pods it manages; must match the template labels.',
      template: 'core.PodTemplateSpec|The pod it runs on each node.',
      updateStrategy: 'o|How pods are replaced on a template change.',
      minReadySeconds: 'i|Seconds a new pod must be ready to count as available.',
      revisionHistoryLimit: 'i|Revisions kept.',
    },
    req: ['selector', 'template'],
  },
  'batch.Job': {
    d: 'Pods that run to completion.',
    gvk: { group: 'batch', version: 'v1', kind: 'Job' },
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'batch.JobSpec|The desired state.',
      status: 'o|The observed state.',
    },
  },
  'batch.JobSpec': {
    d: 'The desired state of a Job.',
    f: {
      parallelism: 'i|The most pods running at once.',
      completions: 'i|Successful pods needed.',
      activeDeadlineSeconds: 'l|Seconds the Job may run.',
      podFailurePolicy: 'o|How pod failures count.',
      successPolicy: 'o|When an indexed Job counts as succeeded.',
      backoffLimit: 'i|Retries before the Job fails.',
      backoffLimitPerIndex: 'i|Retries per index of an indexed Job.',
      maxFailedIndexes: 'i|Failed indexes before the Job fails.',
      selector: 'meta.LabelSelector|The pods it manages; usually generated.',
      manualSelector: 'b|Whether the selector is set by hand.',
      template: 'core.PodTemplateSpec|The pods it creates.',
      ttlSecondsAfterFinished: 'i|Seconds before a finished Job is deleted.',
      completionMode: 's|"NonIndexed" or "Indexed".',
      suspend: 'b|Whether pods are created.',
      podReplacementPolicy: 's|"TerminatingOrFailed" or "Failed".',
      managedBy: 's|The controller that manages the Job.',
    },
    req: ['template'],
  },
  // ---- resource.k8s.io/v1 (k8s.io/api resource/v1 types.go, 1.34) and v1beta2 DeviceTaintRule
  'meta.Condition': {
    d: 'One aspect of the current state of a resource.',
    f: {
      type: 's|The condition type, in CamelCase.',
      status: 's|"True", "False" or "Unknown".',
      observedGeneration: 'l|The metadata.generation the condition was set for.',
      lastTransitionTime: 't|When the status last changed.',
      reason: 's|A CamelCase word for the last transition.',
      message: 's|A human-readable message about the transition.',
    },
    req: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  },
  'resource.DeviceClass': {
    d: 'A class of devices a claim can ask for: selectors and configuration shared by its requests.',
    f: { ...TYPE_META, metadata: meta('Standard object metadata.'), spec: 'resource.DeviceClassSpec|The class.' },
    req: ['spec'],
    gvk: { group: 'resource.k8s.io', version: 'v1', kind: 'DeviceClass' },
  },
  'resource.DeviceClassSpec': {
    d: 'What devices of the class are and how they are configured.',
    f: {
      selectors: '[]resource.DeviceSelector|All must match for a device to be of the class.',
      config: '[]resource.DeviceClassConfiguration|Configuration for every device allocated through the class.',
      extendedResourceName: 's|An extended resource name pods may request to get a device of this class.',
    },
  },
  'resource.DeviceClassConfiguration': {
    d: 'Configuration of the devices of a class.',
    f: { opaque: 'resource.OpaqueDeviceConfiguration|Configuration for one driver.' },
  },
  'resource.OpaqueDeviceConfiguration': {
    d: 'Driver-specific parameters, passed through to the driver.',
    f: {
      driver: 's|The driver that interprets the parameters (a DNS subdomain).',
      parameters: 'o|The parameters: any JSON object, usually with apiVersion and kind.',
    },
    req: ['driver', 'parameters'],
  },
  'resource.DeviceSelector': {
    d: 'A condition a device must meet.',
    f: { cel: 'resource.CELDeviceSelector|A CEL expression over the device.' },
  },
  'resource.CELDeviceSelector': {
    d: 'A CEL expression over `device.driver`, `device.attributes` and `device.capacity`.',
    f: { expression: 's|Must evaluate to true for the device to be selected.' },
    req: ['expression'],
  },
  'resource.ResourceClaim': {
    d: 'A request for devices, and once allocated, which devices it got.',
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'resource.ResourceClaimSpec|What is requested; immutable.',
      status: 'resource.ResourceClaimStatus|Whether and how the claim is allocated and who uses it.',
    },
    req: ['spec'],
    gvk: { group: 'resource.k8s.io', version: 'v1', kind: 'ResourceClaim' },
  },
  'resource.ResourceClaimSpec': {
    d: 'What a claim asks for.',
    f: { devices: 'resource.DeviceClaim|The devices requested.' },
  },
  'resource.DeviceClaim': {
    d: 'Device requests, the constraints between them and their configuration.',
    f: {
      requests: '[]resource.DeviceRequest|Each request names a class and how many devices; all must be met.',
      constraints: '[]resource.DeviceConstraint|Conditions across the devices of several requests.',
      config: '[]resource.DeviceClaimConfiguration|Configuration for the devices of some or all requests.',
    },
  },
  'resource.DeviceRequest': {
    d: 'A named request: either exactly one kind of device or the first available of several.',
    f: {
      name: 's|Names the request in constraints, config and allocation results (a DNS label).',
      exactly: 'resource.ExactDeviceRequest|The request, when it names one class.',
      firstAvailable: '[]resource.DeviceSubRequest|Alternatives, tried in order.',
    },
    req: ['name'],
  },
  'resource.ExactDeviceRequest': {
    d: 'Devices of one class.',
    f: {
      deviceClassName: 's|The DeviceClass the devices come from.',
      selectors: '[]resource.DeviceSelector|Further conditions on the devices.',
      allocationMode: 's|"ExactCount" (the default) or "All".',
      count: 'l|How many devices with ExactCount; default 1.',
      adminAccess: 'b|Access for administration, even to devices in use.',
      tolerations: '[]resource.DeviceToleration|Device taints the request tolerates.',
    },
    req: ['deviceClassName'],
  },
  'resource.DeviceSubRequest': {
    d: 'One alternative of a firstAvailable request.',
    f: {
      name: 's|Names the alternative; results name it as <request>/<subrequest>.',
      deviceClassName: 's|The DeviceClass the devices come from.',
      selectors: '[]resource.DeviceSelector|Further conditions on the devices.',
      allocationMode: 's|"ExactCount" (the default) or "All".',
      count: 'l|How many devices with ExactCount; default 1.',
      tolerations: '[]resource.DeviceToleration|Device taints the alternative tolerates.',
    },
    req: ['name', 'deviceClassName'],
  },
  'resource.DeviceToleration': {
    d: 'Tolerates device taints that match it.',
    f: {
      key: 's|The taint key; empty matches every key (operator Exists).',
      operator: 's|"Equal" (the default) or "Exists".',
      value: 's|The taint value, with Equal.',
      effect: 's|The taint effect; empty matches every effect.',
      tolerationSeconds: 'l|With NoExecute: how long the pod may stay once the taint is added.',
    },
  },
  'resource.DeviceConstraint': {
    d: 'A condition across the devices of several requests.',
    f: {
      requests: '[]s|The requests it applies to; all of them when empty.',
      matchAttribute: 's|A fully qualified attribute that must have the same value on all those devices.',
    },
  },
  'resource.DeviceClaimConfiguration': {
    d: 'Configuration for the devices of some requests.',
    f: {
      requests: '[]s|The requests it applies to; all of them when empty.',
      opaque: 'resource.OpaqueDeviceConfiguration|Configuration for one driver.',
    },
  },
  'resource.ResourceClaimStatus': {
    d: 'Allocation, users and device status of a claim, written by the scheduler, kubelet and drivers.',
    f: {
      allocation: 'resource.AllocationResult|The devices allocated; immutable once set.',
      reservedFor: '[]resource.ResourceClaimConsumerReference|Who uses the claim (at most 256).',
      devices: '[]resource.AllocatedDeviceStatus|Status the drivers report per allocated device.',
    },
  },
  'resource.AllocationResult': {
    d: 'What was allocated and where it can be used.',
    f: {
      devices: 'resource.DeviceAllocationResult|The devices and their configuration.',
      nodeSelector: 'core.NodeSelector|The nodes the claim is usable on; all nodes when empty.',
    },
  },
  'resource.DeviceAllocationResult': {
    d: 'The allocated devices.',
    f: {
      results: '[]resource.DeviceRequestAllocationResult|One per allocated device.',
      config: '[]resource.DeviceAllocationConfiguration|Configuration from the class and the claim.',
    },
  },
  'resource.DeviceRequestAllocationResult': {
    d: 'One device allocated for one request.',
    f: {
      request: 's|The request (or <request>/<subrequest>) it satisfies.',
      driver: 's|The driver of the device.',
      pool: 's|The pool of the device.',
      device: 's|The device name in the pool.',
      adminAccess: 'b|Whether it was allocated for administration.',
      tolerations: '[]resource.DeviceToleration|The tolerations that let the device be allocated.',
    },
    req: ['request', 'driver', 'pool', 'device'],
  },
  'resource.DeviceAllocationConfiguration': {
    d: 'Configuration of allocated devices, and where it came from.',
    f: {
      source: 's|"FromClass" or "FromClaim".',
      requests: '[]s|The requests it applies to; all when empty.',
      opaque: 'resource.OpaqueDeviceConfiguration|Configuration for one driver.',
    },
    req: ['source'],
  },
  'resource.ResourceClaimConsumerReference': {
    d: 'An object (usually a pod) that uses a claim.',
    f: {
      apiGroup: 's|The group of the consumer; empty for core.',
      resource: 's|The resource type of the consumer, e.g. "pods".',
      name: 's|The name of the consumer.',
      uid: 's|The UID of the consumer.',
    },
    req: ['resource', 'name', 'uid'],
  },
  'resource.AllocatedDeviceStatus': {
    d: 'What a driver reports about one allocated device.',
    f: {
      driver: 's|The driver of the device.',
      pool: 's|The pool of the device.',
      device: 's|The device name in the pool.',
      conditions: '[]meta.Condition|The device state, e.g. Ready.',
      data: 'o|Driver-specific data.',
      networkData: 'resource.NetworkDeviceData|Network settings of the device.',
    },
    req: ['driver', 'pool', 'device'],
  },
  'resource.NetworkDeviceData': {
    d: 'Network settings of an allocated device.',
    f: {
      interfaceName: 's|The interface name in the pod.',
      ips: '[]s|Addresses in CIDR notation.',
      hardwareAddress: 's|The MAC address.',
    },
  },
  'resource.ResourceClaimTemplate': {
    d: 'A template from which a ResourceClaim is created per pod.',
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'resource.ResourceClaimTemplateSpec|The claims to create.',
    },
    req: ['spec'],
    gvk: { group: 'resource.k8s.io', version: 'v1', kind: 'ResourceClaimTemplate' },
  },
  'resource.ResourceClaimTemplateSpec': {
    d: 'The metadata and spec of the claims created from the template.',
    f: {
      metadata: meta('Labels and annotations copied onto each claim.'),
      spec: 'resource.ResourceClaimSpec|The spec of each claim.',
    },
    req: ['spec'],
  },
  'resource.ResourceSlice': {
    d: 'Devices a driver publishes: one slice of a pool, usually for one node.',
    f: { ...TYPE_META, metadata: meta('Standard object metadata.'), spec: 'resource.ResourceSliceSpec|The devices.' },
    req: ['spec'],
    gvk: { group: 'resource.k8s.io', version: 'v1', kind: 'ResourceSlice' },
  },
  'resource.ResourceSliceSpec': {
    d: 'The driver, pool, where the devices are reachable, and the devices.',
    f: {
      driver: 's|The driver that publishes the slice (a DNS subdomain).',
      pool: 'resource.ResourcePool|The pool the slice belongs to.',
      nodeName: 's|The node the devices are local to; one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection.',
      nodeSelector: 'core.NodeSelector|The nodes the devices are reachable from.',
      allNodes: 'b|Whether the devices are reachable from every node.',
      perDeviceNodeSelection: 'b|Whether each device says where it is reachable.',
      devices: '[]resource.Device|The devices (at most 128).',
      sharedCounters: '[]resource.CounterSet|Counters devices of the pool consume.',
    },
    req: ['driver', 'pool'],
  },
  'resource.ResourcePool': {
    d: 'The pool a slice belongs to and how many slices it has.',
    f: {
      name: 's|The pool name; unique per driver.',
      generation: 'l|Incremented when the pool changes; slices of older generations are ignored.',
      resourceSliceCount: 'l|How many slices the pool has in this generation.',
    },
    req: ['name', 'generation', 'resourceSliceCount'],
  },
  'resource.Device': {
    d: 'One device a driver publishes.',
    f: {
      name: 's|The device name, unique in the pool (a DNS label).',
      attributes: '{}resource.DeviceAttribute|Attributes selectors and constraints read.',
      capacity: '{}resource.DeviceCapacity|Capacities of the device.',
      consumesCounters: '[]resource.DeviceCounterConsumption|Shared counters the device uses.',
      nodeName: 's|With perDeviceNodeSelection: the node the device is local to.',
      nodeSelector: 'core.NodeSelector|With perDeviceNodeSelection: the nodes it is reachable from.',
      allNodes: 'b|With perDeviceNodeSelection: reachable from every node.',
      taints: '[]resource.DeviceTaint|Taints of the device (gate DRADeviceTaints).',
    },
    req: ['name'],
  },
  'resource.DeviceAttribute': {
    d: 'One attribute value; exactly one field is set.',
    f: {
      int: 'l|An integer.',
      bool: 'b|A boolean.',
      string: 's|A string (at most 64 bytes).',
      version: 's|A semantic version.',
      // KEP-5491 (1.36, alpha): present in the types from 1.36, dropped on write unless DRAListTypeAttributes is on;
      // left out of the schema for servers without them (withListAttributeFields)
      ints: '[]l|A non-empty list of integers (gate DRAListTypeAttributes).',
      bools: '[]b|A non-empty list of booleans (gate DRAListTypeAttributes).',
      strings: '[]s|A non-empty list of strings, each at most 64 bytes (gate DRAListTypeAttributes).',
      versions: '[]s|A non-empty list of semantic versions (gate DRAListTypeAttributes).',
    },
  },
  'resource.DeviceCapacity': {
    d: 'A capacity of a device.',
    f: { value: 'q|The amount.' },
    req: ['value'],
  },
  'resource.CounterSet': {
    d: 'Named counters devices of a pool draw from.',
    f: { name: 's|Names the set (a DNS label).', counters: '{}resource.Counter|The counters by name.' },
    req: ['name', 'counters'],
  },
  'resource.Counter': {
    d: 'An amount of a counter.',
    f: { value: 'q|The amount.' },
    req: ['value'],
  },
  'resource.DeviceCounterConsumption': {
    d: 'What a device draws from one counter set.',
    f: {
      counterSet: 's|The CounterSet it draws from.',
      counters: '{}resource.Counter|The amounts by counter name.',
    },
    req: ['counterSet', 'counters'],
  },
  'resource.DeviceTaint': {
    d: 'A taint on a device: pods that do not tolerate it are not scheduled onto it or are evicted.',
    f: {
      key: 's|The taint key (a qualified name).',
      value: 's|The taint value.',
      effect: 's|"NoSchedule", "NoExecute" or "None".',
      timeAdded: 't|When the taint was added; set by the server.',
    },
    req: ['key', 'effect'],
  },
  'resourcev1beta2.DeviceTaintRule': {
    d: 'An admin taint on every device its selector matches.',
    f: {
      ...TYPE_META,
      metadata: meta('Standard object metadata.'),
      spec: 'resourcev1beta2.DeviceTaintRuleSpec|The selector and the taint.',
      status: 'resourcev1beta2.DeviceTaintRuleStatus|What the rule did.',
    },
    req: ['spec'],
    gvk: { group: 'resource.k8s.io', version: 'v1beta2', kind: 'DeviceTaintRule' },
  },
  'resourcev1beta2.DeviceTaintRuleSpec': {
    d: 'Which devices are tainted, and with what.',
    f: {
      deviceSelector: 'resourcev1beta2.DeviceTaintSelector|The devices; all devices when empty.',
      taint: 'resource.DeviceTaint|The taint added to each of them.',
    },
    req: ['taint'],
  },
  'resourcev1beta2.DeviceTaintSelector': {
    d: 'Fields a device must have to be tainted; all that are set must match.',
    f: {
      driver: 's|The driver of the device.',
      pool: 's|The pool of the device.',
      device: 's|The device name.',
    },
  },
  'resourcev1beta2.DeviceTaintRuleStatus': {
    d: 'Conditions the eviction controller reports.',
    f: { conditions: '[]meta.Condition|e.g. EvictionInProgress.' },
    open: true,
  },
};

const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/** IntOrString's schema name (the validator gives it an integer-or-string check). */
export const INT_OR_STRING_SCHEMA = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const INT_OR_STRING = INT_OR_STRING_SCHEMA;
const TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.Time';

/** Shared value types, as the real documents name them. */
const SCALARS: Record<string, Schema> = {
  [QUANTITY]: {
    description: 'A fixed-point number with a suffix, e.g. "100m", "2Gi", "8"; written as a string or a number.',
    oneOf: [{ type: 'string' }, { type: 'number' }],
  },
  [INT_OR_STRING]: {
    description: 'An integer or a string, e.g. a port number or a port name.',
    type: 'string',
    format: 'int-or-string',
  },
  [TIME]: { description: 'An RFC 3339 time, to the second.', type: 'string', format: 'date-time' },
};

function ref(full: string, description?: string): Schema {
  return { ...(description ? { description } : {}), allOf: [{ $ref: `#/components/schemas/${full}` }] };
}

function fieldSchema(code: string, description?: string): Schema {
  const withDoc = (s: Schema): Schema => (description ? { description, ...s } : s);
  if (code.startsWith('[]')) return withDoc({ type: 'array', items: fieldSchema(code.slice(2)) });
  if (code.startsWith('{}')) return withDoc({ type: 'object', additionalProperties: fieldSchema(code.slice(2)) });
  switch (code) {
    case 's':
      return withDoc({ type: 'string' });
    case 'i':
      return withDoc({ type: 'integer', format: 'int32' });
    case 'l':
      return withDoc({ type: 'integer', format: 'int64' });
    case 'b':
      return withDoc({ type: 'boolean' });
    case 'n':
      return withDoc({ type: 'number', format: 'double' });
    case 't':
      return ref(TIME, description);
    case 'q':
      return ref(QUANTITY, description);
    case 'is':
      return ref(INT_OR_STRING, description);
    case 'o':
      return withDoc({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    default:
      if (!TYPES[code]) throw new Error(`no authored schema ${code}`);
      return ref(schemaName(code), description);
  }
}

function toSchema(def: TypeDef): Schema {
  const properties: Record<string, Schema> = {};
  for (const [name, spec] of Object.entries(def.f)) {
    const bar = spec.indexOf('|');
    properties[name] = fieldSchema(spec.slice(0, bar), spec.slice(bar + 1));
  }
  return {
    description: def.d,
    type: 'object',
    properties,
    ...(def.req ? { required: def.req } : {}),
    ...(def.open ? { 'x-kubernetes-preserve-unknown-fields': true } : {}),
    ...(def.gvk ? { 'x-kubernetes-group-version-kind': [def.gvk] } : {}),
  };
}

/** Every authored schema by its OpenAPI name (`io.k8s.api.core.v1.Pod`), value types included. */
export const AUTHORED_SCHEMAS: Record<string, Schema> = {
  ...SCALARS,
  ...Object.fromEntries(Object.entries(TYPES).map(([short, def]) => [schemaName(short), toSchema(def)])),
};

/** The OpenAPI name of the authored schema of a kind, or undefined when none is authored. */
export function authoredKindSchema(group: string, version: string, kind: string): string | undefined {
  for (const [short, def] of Object.entries(TYPES)) {
    if (def.gvk && def.gvk.group === group && def.gvk.version === version && def.gvk.kind === kind)
      return schemaName(short);
  }
  return undefined;
}

/** The named schemas and everything they reference, for one OpenAPI document's `components.schemas`. */
export function closure(roots: string[], schemas: Record<string, Schema>): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') add(v.replace('#/components/schemas/', ''));
      else visit(v);
    }
  };
  const add = (name: string): void => {
    if (out[name] || !schemas[name]) return;
    out[name] = schemas[name];
    visit(schemas[name]);
  };
  for (const r of roots) add(r);
  return out;
}

const DEVICE_ATTRIBUTE = 'io.k8s.api.resource.v1.DeviceAttribute';

/**
 * A copy of `schemas` whose resource.k8s.io/v1 DeviceAttribute has the list-typed fields or not, as the emulated
 * release's types do (1.36+: present; the 1.34 official document and 1.35 lack them). Added fields take the authored
 * definitions; `schemas` without a DeviceAttribute come back as they are.
 */
export function withListAttributeFields(schemas: Record<string, Schema>, present: boolean): Record<string, Schema> {
  const attribute = schemas[DEVICE_ATTRIBUTE];
  if (!attribute) return schemas;
  const properties = { ...(attribute.properties as Record<string, Schema> | undefined) };
  const authored = AUTHORED_SCHEMAS[DEVICE_ATTRIBUTE]?.properties as Record<string, Schema>;
  for (const name of LIST_ATTRIBUTE_FIELDS) {
    if (present) properties[name] ??= authored[name] as Schema;
    else delete properties[name];
  }
  return { ...schemas, [DEVICE_ATTRIBUTE]: { ...attribute, properties } };
}
