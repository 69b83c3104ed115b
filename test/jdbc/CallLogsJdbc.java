/*
 * CallLogsJdbc: runs a bound-parameter query on a callogs_fdw foreign table
 * through the PostgreSQL JDBC driver (pgJDBC), as a Java application would.
 *
 *   java -cp /usr/share/java/postgresql.jar test/jdbc/CallLogsJdbc.java \
 *        HOST PORT DB [TABLE [EXECUTIONS [PLAN_CACHE_MODE]]]
 *
 * It prepares
 *     SELECT count(id), min(creation_time) FROM TABLE WHERE call_status = ?
 * and executes it EXECUTIONS times (default 10), alternating 'missed' and
 * 'failed'.  pgJDBC sends the first prepareThreshold-1 (default 5) executions
 * as unnamed statements and then switches to a named server-side prepared
 * statement; PostgreSQL in turn plans that statement with custom plans for
 * 5 executions and may then switch to a generic plan, where $1 is unknown
 * at plan time.  Output, one line each:
 *
 *     exec <n> <status> <count> <min creation_time, ISO 8601>
 *     plans server_prepared=<bool> generic_plans=<n> custom_plans=<n>
 *
 * The last line comes from pg_prepared_statements (this session's named
 * statement).
 *
 * With EXECUTIONS = "stream" it instead reads ids in a transaction with
 * setFetchSize(50) (pgJDBC then fetches 50 rows at a time from a suspended
 * portal): all 'missed' rows, then 10 'failed' rows before closing the
 * ResultSet early, then a count of 'failed' on the same connection:
 *
 *     stream full missed <rows> <distinct ids>
 *     stream early failed 10
 *     stream after failed <count>
 *
 * Exit status 0 on success, 1 on any error.
 */

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;

import org.postgresql.PGStatement;

public class CallLogsJdbc {
    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: CallLogsJdbc HOST PORT DB [TABLE [EXECUTIONS [PLAN_CACHE_MODE]]]");
            System.exit(2);
        }
        String table = args.length > 3 ? args[3] : "call_logs";
        boolean stream = args.length > 4 && args[4].equals("stream");
        int executions = args.length > 4 && !stream ? Integer.parseInt(args[4]) : 10;
        String planCacheMode = args.length > 5 ? args[5] : null;
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2]
                + "?user=postgres&ApplicationName=CallLogsJdbc";
        String[] statuses = {"missed", "failed"};

        try (Connection conn = DriverManager.getConnection(url)) {
            try (Statement st = conn.createStatement()) {
                st.execute("SET TIME ZONE 'UTC'");
                if (planCacheMode != null)
                    st.execute("SET plan_cache_mode = " + planCacheMode);
            }
            if (stream) {
                stream(conn, table);
                return;
            }
            String sql = "SELECT count(id), min(creation_time) FROM " + table
                    + " WHERE call_status = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 1; i <= executions; i++) {
                    String status = statuses[(i - 1) % statuses.length];
                    ps.setString(1, status);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next())
                            throw new SQLException("no row returned");
                        long count = rs.getLong(1);
                        OffsetDateTime min = rs.getObject(2, OffsetDateTime.class);
                        System.out.println("exec " + i + " " + status + " " + count + " " + min);
                    }
                }
                boolean serverPrepared = ps.unwrap(PGStatement.class).isUseServerPrepare();
                long generic = 0, custom = 0;
                try (Statement st = conn.createStatement();
                     ResultSet rs = st.executeQuery(
                             "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
                             + " FROM pg_prepared_statements WHERE NOT from_sql"
                             + " AND statement LIKE '%call_status = $1%'")) {
                    if (rs.next()) {
                        generic = rs.getLong(1);
                        custom = rs.getLong(2);
                    }
                }
                System.out.println("plans server_prepared=" + serverPrepared
                        + " generic_plans=" + generic + " custom_plans=" + custom);
            }
        } catch (SQLException e) {
            for (Throwable t = e.getNextException(); t != null; t = ((SQLException) t).getNextException())
                System.err.println("  next: " + t.getMessage());
            System.err.println("SQLException: SQLState " + e.getSQLState() + ": " + e.getMessage());
            System.exit(1);
        }
    }

    static void stream(Connection conn, String table) throws SQLException {
        conn.setAutoCommit(false);
        String sql = "SELECT id FROM " + table + " WHERE call_status = ?";
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            ps.setFetchSize(50);
            ps.setString(1, "missed");
            long rows = 0;
            java.util.HashSet<String> ids = new java.util.HashSet<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows++;
                    ids.add(rs.getString(1));
                }
            }
            System.out.println("stream full missed " + rows + " " + ids.size());
            ps.setString(1, "failed");
            int n = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (n < 10 && rs.next())
                    n++;
            }                                   /* closed with the portal open */
            System.out.println("stream early failed " + n);
        }
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT count(id) FROM " + table + " WHERE call_status = ?")) {
            ps.setString(1, "failed");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                System.out.println("stream after failed " + rs.getLong(1));
            }
        }
        conn.commit();
    }
}
