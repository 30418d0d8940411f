-- A quipu.db of schema version 1 (the first release), with real data: made
-- by quipu-server and quipu-cli (Alice and bob in room Lobby, Alice in
-- Kitchen, bob to Alice directly, carol only registered), dumped with
-- sqlite3 .dump. Tests open it with the current server to check that every
-- migration since keeps the data. Never edit: add a new fixture per release.
PRAGMA user_version = 1;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE users (  uid           INTEGER PRIMARY KEY,  name          TEXT NOT NULL,  fold          TEXT NOT NULL UNIQUE,  key           BLOB NOT NULL CHECK (length (key) = 32),  created       INTEGER NOT NULL,  inbox_seq     INTEGER NOT NULL DEFAULT 0,  delivered_seq INTEGER NOT NULL DEFAULT 0);
INSERT INTO users VALUES(1,'Alice','alice',X'e54a577f39106508439816d6f9de5c3ba30bda605ef20da469d0fc56474ce39b',1796002360358,1,1);
INSERT INTO users VALUES(2,'bob','bob',X'690ac9a257f0828fcfc664f142526aa53ce8c61e2e3576159c513df0c4d1dac3',1796002360425,1,1);
INSERT INTO users VALUES(3,'carol','carol',X'6b890ab35fbbcc9d60f9ac828403522dd2d0bca2609a38ee4d06bc36bc092a3a',1796002360629,0,0);
CREATE TABLE rooms (  rid      INTEGER PRIMARY KEY,  name     TEXT NOT NULL,  fold     TEXT NOT NULL UNIQUE,  last_seq INTEGER NOT NULL);
INSERT INTO rooms VALUES(1,'Lobby','lobby',3);
INSERT INTO rooms VALUES(2,'Kitchen','kitchen',1);
CREATE TABLE messages (  mid           INTEGER PRIMARY KEY,  sender        INTEGER NOT NULL REFERENCES users (uid),  client_msg_id INTEGER NOT NULL,  rid           INTEGER REFERENCES rooms (rid),  seq           INTEGER,  recipients    TEXT,  body          TEXT NOT NULL,  ts            INTEGER NOT NULL,  received      INTEGER NOT NULL,  signature     BLOB NOT NULL CHECK (length (signature) = 64),  UNIQUE (sender, client_msg_id),  CHECK ((rid IS NULL) = (seq IS NULL)         AND (rid IS NULL) = (recipients IS NOT NULL)));
INSERT INTO messages VALUES(1,1,3661954391625336516,1,1,NULL,'first words in the lobby',1796002360319,1796002360369,X'a93de48bd51acaf5ab84163f0bfafa6af840f2be1b108c0525750b52158b4c7f07978d4bdd0f8e3d92ae8c8c81d742cc882c8714a82c8ed35274a25c022fae0b');
INSERT INTO messages VALUES(2,2,3256091556068025757,1,2,NULL,'bob answers',1796002360399,1796002360433,X'658d40761206379601181e01eee261c0ea96dd4e530f1d8a25c7c9b94e9b4fa8ef1cee185aa49b25032f3fc40d0c51aa0f7531ebdb51f870c0b2d1278c71990f');
INSERT INTO messages VALUES(3,1,3645693082710599276,2,1,NULL,'kettle''s on',1796002360448,1796002360478,X'0c2381af37b094658a8cb8a1acb5f95554e65d7ef0bb800aa71e51c537bc02e664b8005fcab13ad84d0c05e0ccd28e0e819e5f40edcfaaff075de92d9cfca809');
INSERT INTO messages VALUES(4,2,558485726261526479,NULL,NULL,'Alice','psst, a direct one',1796002360494,1796002360530,X'd9489c5f31dc0a43b9d2b5d5a5e428dc60e8a0dfc8700847b742e47419fa2a4cd54adaa79e55077b7703fc575312eff5a27c2bddc4cb0f692c91fceed64e2f0f');
INSERT INTO messages VALUES(5,1,3000933827938802081,1,3,NULL,'ünïcödé ✓ and a ''quote''',1796002360541,1796002360568,X'3ed70302d76516df6e6aeecc02d90185e167aee76b2ead51b3b7070ba2af4faf430fd547be40a265c7046ab6dc4777bce4f8557525afb301a35c76875c37a10c');
CREATE TABLE inbox (  uid INTEGER NOT NULL REFERENCES users (uid),  seq INTEGER NOT NULL,  mid INTEGER NOT NULL REFERENCES messages (mid) ON DELETE CASCADE,  PRIMARY KEY (uid, seq)) WITHOUT ROWID;
INSERT INTO inbox VALUES(1,1,4);
INSERT INTO inbox VALUES(2,1,4);
CREATE UNIQUE INDEX messages_room_seq ON messages (rid, seq) WHERE rid IS NOT NULL;
CREATE INDEX messages_received ON messages (received);
CREATE INDEX inbox_message ON inbox (mid);
COMMIT;
