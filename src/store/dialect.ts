/** Which database engine a store talks to. Migrations take it to choose column types. */
export type StoreDialect = 'sqlite' | 'postgres';
