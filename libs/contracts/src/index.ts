export { ALL_TOPICS, SERVICES, TOPICS } from './topics.catalogue';
