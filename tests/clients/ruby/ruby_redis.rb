# redis-rb: Redis.new(url: "rediss://...") turns on TLS (ssl: true) with OpenSSL's default
# context: certificate and host name checked, CA from OpenSSL's default paths, which honour
# SSL_CERT_FILE. reconnect_attempts: 0 only makes a failure final.
# https://github.com/redis/redis-rb#getting-started  https://github.com/redis/redis-rb#ssltls-support
require "redis"
require_relative "_cell"

Cell.run("ruby-redis") do |prefix|
  redis = Redis.new(url: Cell.link(prefix, "URL"), reconnect_attempts: 0)
  begin
    key = "provision-client-matrix:#{Process.pid}"
    redis.set(key, "ok", ex: 60)
    raise "GET did not return what SET stored" unless redis.get(key) == "ok"
    sock = redis._client.connection.instance_variable_get(:@sock) # redis-rb 4.x: Redis::Connection::Ruby
    tls = sock.is_a?(OpenSSL::SSL::SSLSocket)
    [tls, tls ? "#{sock.ssl_version} #{sock.cipher[0]}" : ""]
  ensure
    redis.close
  end
end
