import type SqliteDatabase from "better-sqlite3";
import type { ChangeFeed } from "../storage.ts";

/**
 * The SQLite change feed: one file has no notification channel, so nothing is announced; other
 * processes' commits show in `data_version`, which the follower polls.
 * @example
 * const changeFeed = sqliteChangeFeed(database);
 */
export function sqliteChangeFeed(database: SqliteDatabase.Database): ChangeFeed {
  return {
    announce: async () => undefined,
    commitCounter: () => database.pragma("data_version", { simple: true }) as number,
  };
}
