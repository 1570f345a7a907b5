/**
 * The Lua scripts that keep a stream's queue and its owner's lease consistent across instances: each runs
 * atomically in Redis, so an enqueue and an idle owner's release can never miss each other.
 *
 * Times come from Redis (`TIME`), never from an instance's clock. The sweep names keys it computes from the
 * stream names it finds, so the relay needs a standalone Redis (or Sentinel), not Redis Cluster.
 */

/** Milliseconds since the epoch, by Redis's clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Queues an utterance and, when the stream has no owner, makes the caller its owner.
 * KEYS: queue, utterances, sequence, owner, leases. ARGV: id, metadata JSON, instance, lease ms, max queue, stream.
 * Returns {number, acquired} or {-1, 0} when the queue is full.
 */
export const ENQUEUE = `
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[5]) then return {-1, 0} end
local n = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], ARGV[1], n .. '|' .. ARGV[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('SET', KEYS[4], ARGV[3], 'NX', 'PX', ARGV[4]) then
  ${NOW}
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[4]), ARGV[6])
  return {n, 1}
end
return {n, 0}`;

/**
 * The owner's step between utterances: forgets the one it finished, then takes the next, or, with an empty
 * queue, gives the stream up.
 * KEYS: owner, queue, utterances, current, leases. ARGV: instance, lease ms, stream, finished id or '',
 * started_at, input key prefix. Returns {'next', id, metadata}, {'idle'} or {'lost'}.
 */
export const CLAIM = `
if ARGV[4] ~= '' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('DEL', ARGV[6] .. ARGV[4])
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
local id = redis.call('LPOP', KEYS[2])
if not id then
  redis.call('DEL', KEYS[1], KEYS[4])
  redis.call('ZREM', KEYS[5], ARGV[3])
  return {'idle'}
end
local meta = redis.call('HGET', KEYS[3], id) or ''
redis.call('SET', KEYS[4], cjson.encode({id = id, meta = meta, owner = ARGV[1], started_at = ARGV[5]}))
${NOW}
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[3])
return {'next', id, meta}`;

/**
 * Extends the caller's lease. A lease that lapsed while nobody else took it (Redis was away, or the instance
 * stalled) is taken back when the caller is still the one speaking the stream.
 * KEYS: owner, leases, current. ARGV: instance, lease ms, stream. Returns 1 while the caller owns the stream.
 */
export const RENEW = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
if not owner then
  local current = redis.call('GET', KEYS[3])
  if not current or cjson.decode(current).owner ~= ARGV[1] then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
${NOW}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

/**
 * Gives a stream up on shutdown; a non-empty queue is marked due at once, so another instance's sweep takes it.
 * KEYS: owner, queue, current, leases. ARGV: instance, stream.
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
if redis.call('LLEN', KEYS[2]) > 0 then
  redis.call('ZADD', KEYS[4], 0, ARGV[2])
else
  redis.call('ZREM', KEYS[4], ARGV[2])
end
return 1`;

/**
 * Takes over streams whose owner's lease ran out. Returns {stream, current JSON or '', …}: the utterance each
 * dead owner was speaking, which the new owner ends with an error.
 * KEYS: leases. ARGV: instance, lease ms, key prefix, most streams per sweep.
 */
export const SWEEP = `
${NOW}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, stream in ipairs(due) do
  local base = ARGV[3] .. '{' .. stream .. '}:'
  local ttl = redis.call('PTTL', base .. 'owner')
  if ttl == -2 then
    redis.call('SET', base .. 'owner', ARGV[1], 'PX', ARGV[2])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), stream)
    local current = redis.call('GET', base .. 'current') or ''
    redis.call('DEL', base .. 'current')
    table.insert(out, stream)
    table.insert(out, current)
  elseif ttl > 0 then
    redis.call('ZADD', KEYS[1], now + ttl, stream)
  else
    redis.call('PEXPIRE', base .. 'owner', ARGV[2])
  end
end
return out`;

/**
 * Stops the current utterance's record and, with ARGV[1] = '1', empties the queue. Returns {current JSON or '',
 * id, metadata, …} for whoever must be told. KEYS: current, queue, utterances. ARGV: all, input key prefix.
 */
export const CANCEL = `
local out = {redis.call('GET', KEYS[1]) or ''}
if ARGV[1] == '1' then
  local ids = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
  for _, id in ipairs(ids) do
    table.insert(out, id)
    table.insert(out, redis.call('HGET', KEYS[3], id) or '')
    redis.call('HDEL', KEYS[3], id)
    redis.call('DEL', ARGV[2] .. id)
  end
end
return out`;

/**
 * Cancels one utterance by id: the one speaking is left to its owner to stop; a queued one leaves the queue and
 * its records here. KEYS: current, queue, utterances. ARGV: id, input key prefix.
 * Returns {'current', current JSON}, {'queued', metadata} or {'none'} when it is neither (it had ended).
 */
export const CANCEL_ONE = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).id == ARGV[1] then return {'current', current} end
if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then return {'none'} end
local meta = redis.call('HGET', KEYS[3], ARGV[1]) or ''
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', ARGV[2] .. ARGV[1])
return {'queued', meta}`;

/** KEYS: current, queue, utterances. Returns {current JSON or '', id, metadata, …}. */
export const STATUS = `
local out = {redis.call('GET', KEYS[1]) or ''}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[3], id) or '')
end
return out`;

/**
 * Ends the record of an utterance the caller found orphaned (its owner died while speaking it).
 * KEYS: utterances, input. ARGV: id.
 */
export const FORGET = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1`;
