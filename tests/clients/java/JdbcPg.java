// pgjdbc (Debian libpostgresql-jdbc-java): DriverManager.getConnection(url) with
// jdbc:postgresql://HOST:PORT/DB?user=U&password=P&sslmode=verify-full&sslrootcert=<PEM file>
// (verify-full: CA and host name checked).
// https://jdbc.postgresql.org/documentation/use/#connection-parameters
// https://jdbc.postgresql.org/documentation/ssl/
// Run as a single-file source program: java -cp /usr/share/java/postgresql.jar JdbcPg.java PREFIX
import java.sql.*;

public class JdbcPg {
  public static void main(String[] args) {
    String prefix = args[0];
    String url = env(prefix, "URL");
    try (Connection conn = DriverManager.getConnection(url);
        Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(
            "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
      rs.next();
      boolean ssl = rs.getBoolean(1);
      ok("jdbc-pg", ssl, ssl ? rs.getString(2) + " " + rs.getString(3) : "");
    } catch (Exception e) {
      fail("jdbc-pg", prefix, e);
    }
  }

  static String env(String prefix, String name) {
    String v = System.getenv(prefix + "_" + name);
    return v == null ? "" : v;
  }

  static void ok(String client, boolean encrypted, String detail) {
    System.out.println("{\"client\":" + json(client) + ",\"ok\":true,\"encrypted\":" + encrypted
        + ",\"detail\":" + json(detail) + "}");
  }

  static void fail(String client, String prefix, Exception e) {
    String text = e.getClass().getName() + ": " + e.getMessage();
    for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      text += "; caused by " + c.getClass().getName() + ": " + c.getMessage();
    }
    String password = env(prefix, "PASSWORD");
    for (String secret : new String[] {env(prefix, "URL"), password,
        java.net.URLEncoder.encode(password, java.nio.charset.StandardCharsets.UTF_8)}) {
      if (!secret.isEmpty()) text = text.replace(secret, "***");
    }
    text = text.replaceAll("\\s+", " ").trim();
    if (text.length() > 1000) text = text.substring(0, 1000);
    System.out.println("{\"client\":" + json(client) + ",\"ok\":false,\"error\":" + json(text) + "}");
    System.exit(1);
  }

  static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
