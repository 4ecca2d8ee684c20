export { checkRedis, createRedis, type RedisClient, type RedisOptions } from './redis.client';
