"""binhchon portal: server-rendered pages over the four services' HTTP APIs, with the signed-in person's token."""
