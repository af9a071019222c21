export { allocateOnNode, collectPools, devicesInUse, usableDespiteTaints } from './allocator.js';
export { celDevice, compileSelector } from './cel.js';
export { POD_CLAIM_NAME_ANNOTATION, SCHEDULER_NAME, SchedulerLite, type SchedulerOptions } from './scheduler.js';
