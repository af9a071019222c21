export { SchedulerLite } from './scheduler.js';
