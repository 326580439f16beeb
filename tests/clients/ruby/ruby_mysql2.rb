# mysql2 gem: Mysql2::Client.new takes no URL, so the options are built from the link's parts:
# ssl_mode: :verify_identity with sslca: P_CA_FILE (CA and host name checked, no plain text).
# Debian's ruby-mysql2 0.5.3 on libmariadb ignores ssl_mode (warning "does not support setting
# ssl_mode"): only the CA is checked, and only if the server offers TLS (see selfcheck.sh
# KNOWN_UNSAFE). mysql2 >= 0.5.4 maps :verify_identity to MariaDB's
# MYSQL_OPT_SSL_VERIFY_SERVER_CERT (https://github.com/brianmario/mysql2/pull/1205).
# https://github.com/brianmario/mysql2#ssl-options
# https://github.com/brianmario/mysql2#connection-options
require "mysql2"
require_relative "_cell"

Cell.run("ruby-mysql2") do |prefix|
  part = ->(name) { Cell.link(prefix, name) }
  client = Mysql2::Client.new(
    host: part["HOST"], port: Integer(part["PORT"]),
    username: part["USERNAME"], password: part["PASSWORD"],
    database: part["PATH"].delete_prefix("/"),
    ssl_mode: :verify_identity, sslca: part["CA_FILE"],
    connect_timeout: 10
  )
  begin
    row = client.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'").first
    cipher = row ? row["Value"].to_s : ""
    [!cipher.empty?, cipher]
  ensure
    client.close
  end
end
