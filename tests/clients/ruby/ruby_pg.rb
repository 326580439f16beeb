# ruby-pg: PG.connect(url) hands the URI to libpq; sslmode=verify-full and sslrootcert=<file>
# are libpq parameters.
# https://deveiate.org/code/pg/PG/Connection.html#method-c-new
# https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNECT-SSLMODE
require "pg"
require_relative "_cell"

Cell.run("ruby-pg") do |prefix|
  conn = PG.connect(Cell.link(prefix, "URL"))
  begin
    row = conn.exec("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0]
    ssl = row["ssl"] == "t"
    [ssl, ssl ? "#{row["version"]} #{row["cipher"]}" : ""]
  ensure
    conn.close
  end
end
