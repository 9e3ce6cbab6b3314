export async function receiveCommand(_a: string[]): Promise<number> { return 1; }
