"""The Kubernetes REST API (DESIGN 11): discovery, resources, watch and Status errors, served from the
kind registry so that unmodified kubectl and the official client libraries drive miniorch."""
