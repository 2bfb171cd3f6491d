"""Descriptions of manifest fields the spec models leave undescribed, in Kubernetes' API docs' words
(shortened), for the OpenAPI documents `kubectl explain` reads. Keyed `Definition.field`."""

from __future__ import annotations

DOCS: dict[str, str] = {
    "JobSpec.parallelism": "Specifies the maximum desired number of pods the job should run at any given time.",
    "JobSpec.completions": (
        "Specifies the desired number of successfully finished pods the job should be run with. Setting to null "
        "means that the success of any pod signals the success of all pods."
    ),
    "JobSpec.completionMode": (
        "NonIndexed: the Job is complete when there have been .spec.completions successfully completed Pods. "
        "Indexed: the Pods get a completion index from 0 to (.spec.completions - 1)."
    ),
    "JobSpec.backoffLimit": "Specifies the number of retries before marking this job failed.",
    "JobSpec.backoffLimitPerIndex": (
        "Specifies the limit for the number of retries within an index before marking this index as failed "
        "(Indexed Jobs only)."
    ),
    "JobSpec.maxFailedIndexes": (
        "Specifies the maximal number of failed indexes before marking the Job as failed, when backoffLimitPerIndex is set."
    ),
    "JobSpec.activeDeadlineSeconds": (
        "Specifies the duration in seconds relative to the startTime that the job may be continuously active before "
        "the system tries to terminate it; value must be a positive integer."
    ),
    "JobSpec.ttlSecondsAfterFinished": (
        "Limits the lifetime of a Job that has finished execution (either Complete or Failed): after it, the Job "
        "and its pods are deleted."
    ),
    "JobSpec.suspend": "Specifies whether the Job controller should create Pods or not.",
    "JobSpec.template": "Describes the pod that will be created when executing a job.",
    "JobSpec.podFailurePolicy": "Specifies the policy of handling failed pods.",
    "JobSpec.successPolicy": "Specifies the policy when the Job can be declared as succeeded.",
    "CronJobSpec.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "CronJobSpec.timeZone": "The time zone name for the given schedule (a tz database name, e.g. Europe/Berlin).",
    "CronJobSpec.startingDeadlineSeconds": (
        "Optional deadline in seconds for starting the job if it misses scheduled time for any reason."
    ),
    "CronJobSpec.concurrencyPolicy": "Specifies how to treat concurrent executions of a Job: Allow, Forbid or Replace.",
    "CronJobSpec.suspend": "This flag tells the controller to suspend subsequent executions.",
    "CronJobSpec.jobTemplate": "Specifies the job that will be created when executing a CronJob.",
    "CronJobSpec.successfulJobsHistoryLimit": "The number of successful finished jobs to retain.",
    "CronJobSpec.failedJobsHistoryLimit": "The number of failed finished jobs to retain.",
    "DaemonSetSpec.selector": "A label query over pods that are managed by the daemon set. Must match the template's labels.",
    "DaemonSetSpec.template": "An object that describes the pod that will be created on every eligible node.",
    "DaemonSetSpec.updateStrategy": "An update strategy to replace existing DaemonSet pods with new pods.",
    "DaemonSetSpec.minReadySeconds": (
        "The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its "
        "container crashing, for it to be considered available."
    ),
    "Container.name": "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name.",
    "Container.image": "Container image name.",
    "Container.command": "Entrypoint array. Not executed within a shell. The image's ENTRYPOINT is used if this is not provided.",
    "Container.args": "Arguments to the entrypoint. The image's CMD is used if this is not provided.",
    "Container.env": "List of environment variables to set in the container.",
    "Container.workingDir": "Container's working directory.",
    "Container.resources": "Compute Resources required by this container.",
    "Container.volumeMounts": "Pod volumes to mount into the container's filesystem.",
    "PodSpec.containers": "List of containers belonging to the pod.",
    "PodSpec.restartPolicy": "Restart policy for all containers within the pod. One of Always, OnFailure, Never.",
    "PodSpec.nodeSelector": "A selector which must be true for the pod to fit on a node.",
    "PodSpec.volumes": "List of volumes that can be mounted by containers belonging to the pod.",
    "PodSpec.terminationGracePeriodSeconds": "Duration in seconds the pod needs to terminate gracefully.",
    "ObjectMeta.name": "Name must be unique within a namespace.",
    "ObjectMeta.namespace": "Namespace defines the space within which each name must be unique.",
    "ObjectMeta.labels": "Map of string keys and values that can be used to organize and categorize objects.",
    "ObjectMeta.annotations": "An unstructured key value map stored with a resource that tools may set.",
}
