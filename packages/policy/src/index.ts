// The public API of @edca/policy: the tools a policy owner changes a state map with.
export { ACTIVATION_DOMAIN, POLICY_OWNER_ROLE, verifyActivation } from '@edca/records';
