export async function sendCommand(_a: string[]): Promise<number> { return 1; }
